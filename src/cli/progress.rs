//! Progress of long commands on stderr, shared by every command that has some: a bar
//! on a terminal, JSON lines with `--json`, plain lines when forced onto a pipe with
//! `--progress`; nothing with `--no-progress` or `-q`, or when stderr is not a
//! terminal. Lines (JSON or plain) come a few times a second at most.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

// `--progress`, `--no-progress` and `-q`, for the commands that do long work. (A
// comment, not a doc comment: clap would take it as each command's help.)
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct ProgressArgs {
    /// Show progress even when stderr is not a terminal
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,
    /// Show no progress
    #[arg(long, overrides_with = "progress")]
    pub no_progress: bool,
    /// Be quiet: no progress, and no summary on stdout (errors and warnings still show)
    #[arg(short, long)]
    pub quiet: bool,
}

impl ProgressArgs {
    /// The reporter for operation `op` (`"commit"`, `"gc"`…), JSON lines when `json`.
    pub fn reporter(&self, op: &'static str, json: bool) -> Reporter {
        Reporter::new(op, self.progress, self.no_progress || self.quiet, json)
    }
}

/// How often at most a line (JSON or plain) is printed.
const LINE_EVERY: Duration = Duration::from_millis(250);

/// How progress is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Bar,
    Lines,
    Json,
}

/// The last state reported, and whether it was printed.
#[derive(Default)]
struct State {
    printed: Option<Instant>,
    pending: Option<(&'static str, u64, u64, &'static str)>,
    /// A second count shown beside the main one: bytes read (commit), deltas (gc).
    extra: Option<(&'static str, u64)>,
}

/// Shows progress on stderr (see the module docs); a [`cow::progress::Progress`] for
/// the library to report to.
pub struct Reporter {
    op: &'static str,
    mode: Mode,
    bar: OnceLock<ProgressBar>,
    state: Mutex<State>,
}

impl Reporter {
    /// `force`: show even when stderr is not a terminal; `off`: never show (wins).
    pub fn new(op: &'static str, force: bool, off: bool, json: bool) -> Reporter {
        let terminal = std::io::stderr().is_terminal();
        let mode = match () {
            _ if off || !(force || terminal) => Mode::Off,
            _ if json => Mode::Json,
            _ if terminal => Mode::Bar,
            _ => Mode::Lines,
        };
        Reporter {
            op,
            mode,
            bar: OnceLock::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// Notes a second count shown beside the next reports: `("bytes", n)` or
    /// `("deltas", n)`.
    pub fn extra(&self, name: &'static str, value: u64) {
        if self.mode != Mode::Off {
            self.state.lock().expect("no panics while held").extra = Some((name, value));
        }
    }

    /// Ends the display: clears the bar, or prints the last state if it was held back.
    pub fn done(&self) {
        let mut state = self.state.lock().expect("no panics while held");
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
            return;
        }
        if let Some(pending) = state.pending.take() {
            self.print(pending, state.extra);
        }
    }

    fn print(
        &self,
        (step, done, total, unit): (&'static str, u64, u64, &'static str),
        extra: Option<(&'static str, u64)>,
    ) {
        let line = if self.mode == Mode::Json {
            let mut line = serde_json::json!({
                "type": "progress", "op": self.op, "step": step, "done": done,
                "total": if total > 0 { serde_json::Value::from(total) } else { serde_json::Value::Null },
                "unit": unit,
            });
            if let Some((name, value)) = extra {
                line[name] = value.into();
            }
            line.to_string()
        } else {
            format!("{}: {}", self.op, text(step, done, total, unit, extra))
        };
        let _ = writeln!(std::io::stderr(), "{line}");
    }

    fn draw(&self, step: &'static str, done: u64, total: u64, unit: &'static str) {
        // Held while drawing: reports from several threads show in order, and a
        // count that another thread already passed is not shown.
        let mut state = self.state.lock().expect("no panics while held");
        if let Some((last_step, last_done, _, _)) = state.pending
            && last_step == step
            && last_done > done
        {
            return;
        }
        state.pending = Some((step, done, total, unit));
        let message = text(step, done, total, unit, state.extra);
        let bar = self.bar.get_or_init(|| {
            let style = ProgressStyle::with_template("{spinner} {prefix} {msg} [{elapsed}]")
                .expect("template is valid");
            let bar = ProgressBar::new(total)
                .with_style(style)
                .with_prefix(format!("{}:", self.op))
                .with_message(message.clone());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        bar.set_message(message);
    }
}

/// `snapshot 12/40 files, 3.1 MiB`, `pack 3/9 objects, 2 deltas`, `receive 4.0 MiB`.
fn text(
    step: &str,
    done: u64,
    total: u64,
    unit: &str,
    extra: Option<(&'static str, u64)>,
) -> String {
    let count = |n: u64| match unit {
        "bytes" => HumanBytes(n).to_string(),
        _ => n.to_string(),
    };
    let mut text = match (total, unit) {
        (0, "bytes") => format!("{step} {}", count(done)),
        (0, _) => format!("{step} {done} {unit}"),
        (_, "bytes") => format!("{step} {} of {}", count(done), count(total)),
        _ => format!("{step} {done}/{total} {unit}"),
    };
    match extra {
        Some(("bytes", n)) => text += &format!(", {}", HumanBytes(n)),
        Some((name, n)) => text += &format!(", {n} {name}"),
        None => {}
    }
    text
}

impl cow::progress::Progress for Reporter {
    fn update(&self, step: &'static str, done: u64, total: u64, unit: &'static str) {
        if step == "deltas" {
            return self.extra("deltas", done);
        }
        match self.mode {
            Mode::Off => {}
            Mode::Bar => self.draw(step, done, total, unit),
            Mode::Lines | Mode::Json => {
                let mut state = self.state.lock().expect("no panics while held");
                let now = Instant::now();
                if state.printed.is_some_and(|t| now - t < LINE_EVERY) {
                    state.pending = Some((step, done, total, unit));
                    return;
                }
                state.printed = Some(now);
                state.pending = None;
                self.print((step, done, total, unit), state.extra);
            }
        }
    }
}
