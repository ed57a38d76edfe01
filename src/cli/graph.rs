//! `log --graph`: git's ASCII history graph (graph.c's column state machine) for
//! commits with up to two parents: `*` for a commit, `|` `\` `/` for the lines between.

use cow::object::ObjectId;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Padding,
    Commit,
    PostMerge,
    Collapsing,
}

/// The graph as it is drawn, one output line at a time.
pub struct Graph {
    commit: Option<ObjectId>,
    parents: Vec<ObjectId>,
    /// The commits each column waits for, before and after the current commit.
    columns: Vec<ObjectId>,
    new_columns: Vec<ObjectId>,
    /// For each position of the old row (two characters a column), the column it goes to.
    mapping: Vec<Option<usize>>,
    /// The mapping as the line before this commit left it.
    prev_mapping: Vec<Option<usize>>,
    width: usize,
    state: State,
    /// The state before the last change of state (git's `prev_state`).
    prev_state: State,
}

impl Graph {
    pub fn new() -> Graph {
        Graph {
            commit: None,
            parents: Vec::new(),
            columns: Vec::new(),
            new_columns: Vec::new(),
            mapping: Vec::new(),
            prev_mapping: Vec::new(),
            width: 0,
            state: State::Padding,
            prev_state: State::Padding,
        }
    }

    /// Moves on to the next commit shown (whose parents are those drawn).
    pub fn update(&mut self, commit: ObjectId, parents: &[ObjectId]) {
        self.commit = Some(commit);
        self.parents = parents.to_vec();
        self.columns = std::mem::take(&mut self.new_columns);
        self.prev_mapping = std::mem::take(&mut self.mapping);
        self.mapping = vec![None; 2 * (self.columns.len() + self.parents.len())];
        self.width = 0;
        let mut index = 0;
        let mut seen = false;
        for i in 0..=self.columns.len() {
            let col = if i == self.columns.len() {
                if seen {
                    break;
                }
                commit
            } else {
                self.columns[i]
            };
            if col == commit {
                seen = true;
                for parent in self.parents.clone() {
                    self.insert(parent, &mut index);
                }
                if self.parents.is_empty() {
                    self.width += 2;
                }
            } else {
                self.insert(col, &mut index);
            }
        }
        while self.mapping.len() > 1 && self.mapping.last() == Some(&None) {
            self.mapping.pop();
        }
        // Not a change of state that a line was drawn in: prev_state stays.
        self.state = State::Commit;
    }

    fn insert(&mut self, id: ObjectId, index: &mut usize) {
        let at = match self.new_columns.iter().position(|c| *c == id) {
            Some(at) => at,
            None => {
                self.new_columns.push(id);
                self.new_columns.len() - 1
            }
        };
        if *index < self.mapping.len() {
            self.mapping[*index] = Some(at);
        }
        *index += 2;
        self.width += 2;
    }

    /// Whether the lines after the current commit are all drawn.
    pub fn is_finished(&self) -> bool {
        self.state == State::Padding
    }

    fn pad(&self, mut line: String) -> String {
        let len = line.chars().count();
        if len < self.width {
            line.push_str(&" ".repeat(self.width - len));
        }
        line
    }

    fn mapping_correct(&self) -> bool {
        self.mapping
            .iter()
            .enumerate()
            .all(|(i, t)| t.is_none_or(|t| t == i / 2))
    }

    /// The graph part of a separator line between two commits.
    pub fn padding_line(&mut self) -> String {
        if self.state != State::Commit {
            return self.next_line();
        }
        self.prev_state = State::Padding;
        self.pad("| ".repeat(self.columns.len()))
    }

    fn set_state(&mut self, state: State) {
        self.prev_state = self.state;
        self.state = state;
    }

    /// The graph part of the next output line.
    pub fn next_line(&mut self) -> String {
        let commit = self.commit;
        match self.state {
            State::Padding => self.pad("| ".repeat(self.new_columns.len())),
            State::Commit => {
                let mut line = String::new();
                let mut seen = false;
                for i in 0..=self.columns.len() {
                    let col = if i == self.columns.len() {
                        if seen {
                            break;
                        }
                        commit
                    } else {
                        Some(self.columns[i])
                    };
                    if col == commit {
                        seen = true;
                        line.push('*');
                    } else if seen && self.parents.len() > 1 {
                        line.push('|');
                    } else if self.prev_state == State::Collapsing
                        && self.prev_mapping.get(2 * i + 1) == Some(&Some(i))
                        && self
                            .mapping
                            .get(2 * i)
                            .is_none_or(|t| t.is_none_or(|t| t < i))
                    {
                        // A line that moved left into this column goes on to the
                        // commit's parent: drawn leaning, as git does.
                        line.push('/');
                    } else {
                        line.push('|');
                    }
                    line.push(' ');
                }
                self.set_state(if self.parents.len() > 1 {
                    State::PostMerge
                } else if self.mapping_correct() {
                    State::Padding
                } else {
                    State::Collapsing
                });
                self.pad(line)
            }
            State::PostMerge => {
                let mut line = String::new();
                let mut seen = false;
                for i in 0..=self.columns.len() {
                    let col = if i == self.columns.len() {
                        if seen {
                            break;
                        }
                        commit
                    } else {
                        Some(self.columns[i])
                    };
                    if col == commit {
                        seen = true;
                        line.push('|');
                        for _ in 1..self.parents.len() {
                            line.push_str("\\ ");
                        }
                    } else if seen {
                        line.push_str("\\ ");
                    } else {
                        line.push_str("| ");
                    }
                }
                self.set_state(if self.mapping_correct() {
                    State::Padding
                } else {
                    State::Collapsing
                });
                self.pad(line)
            }
            State::Collapsing => {
                let mut new_mapping: Vec<Option<usize>> = vec![None; self.mapping.len()];
                for i in 0..self.mapping.len() {
                    let Some(target) = self.mapping[i] else {
                        continue;
                    };
                    if target * 2 == i {
                        new_mapping[i] = Some(target);
                    } else if i >= 1 && new_mapping[i - 1].is_none() {
                        new_mapping[i - 1] = Some(target);
                    } else if i >= 1 && new_mapping[i - 1] == Some(target) {
                        // Joins the line to its left, which goes to the same place.
                    } else if i >= 2 {
                        new_mapping[i - 2] = Some(target);
                    }
                }
                if new_mapping.last() == Some(&None) {
                    new_mapping.pop();
                }
                let line: String = new_mapping
                    .iter()
                    .enumerate()
                    .map(|(i, t)| match t {
                        None => ' ',
                        Some(t) if t * 2 == i => '|',
                        Some(_) => '/',
                    })
                    .collect();
                self.mapping = new_mapping;
                if self.mapping_correct() {
                    self.set_state(State::Padding);
                }
                self.pad(line)
            }
        }
    }
}
