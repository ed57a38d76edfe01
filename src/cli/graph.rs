//! `log --graph`: git's ASCII history graph (graph.c's column state machine): `*` for a
//! commit, `-` and `.` for an octopus merge's extra parents, `|` `\` `/` `_` for the
//! lines between.

use cow::object::ObjectId;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Padding,
    Skip,
    PreCommit,
    Commit,
    PostMerge,
    Collapsing,
}

/// No column: an empty slot of the mapping.
const NONE: i32 = -1;

/// The graph as it is drawn, one output line at a time.
pub struct Graph {
    commit: Option<ObjectId>,
    parents: Vec<ObjectId>,
    /// The commits each column waits for, before and after the current commit.
    columns: Vec<ObjectId>,
    new_columns: Vec<ObjectId>,
    /// For each position of the row (two characters a column), the column of
    /// `new_columns` the line there goes to ([`NONE`]: no line). Its length is the
    /// capacity; `mapping_size` positions are in use.
    mapping: Vec<i32>,
    /// The mapping as the last collapsing line left it.
    old_mapping: Vec<i32>,
    mapping_size: usize,
    /// The current commit's column, and the previous commit's.
    commit_index: usize,
    prev_commit_index: usize,
    /// For a merge: 0 when the first parent's line leaves to the right ("skewed"), 1
    /// when it goes straight down, as git lays it out; -1 until decided.
    merge_layout: i32,
    /// How many columns the merge adds to the right of the commit (-1 when its last
    /// parent joins the column beside it at once).
    edges_added: i32,
    prev_edges_added: i32,
    /// Of the rows that make room for an octopus merge, how many are drawn.
    expansion_row: usize,
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
            old_mapping: Vec::new(),
            mapping_size: 0,
            commit_index: 0,
            prev_commit_index: 0,
            merge_layout: 0,
            edges_added: 0,
            prev_edges_added: 0,
            expansion_row: 0,
            width: 0,
            state: State::Padding,
            prev_state: State::Padding,
        }
    }

    /// Moves on to the next commit shown (whose parents are those drawn).
    pub fn update(&mut self, commit: ObjectId, parents: &[ObjectId]) {
        self.commit = Some(commit);
        self.parents = parents.to_vec();
        self.prev_commit_index = self.commit_index;
        self.update_columns(commit);
        self.expansion_row = 0;
        // Not a change of state that a line was drawn in: prev_state stays.
        self.state = if self.state != State::Padding {
            State::Skip
        } else if self.needs_pre_commit_line() {
            State::PreCommit
        } else {
            State::Commit
        };
    }

    fn update_columns(&mut self, commit: ObjectId) {
        self.columns = std::mem::take(&mut self.new_columns);
        let max_new_columns = self.columns.len() + self.parents.len();
        let capacity = 2 * max_new_columns;
        for mapping in [&mut self.mapping, &mut self.old_mapping] {
            if mapping.len() < capacity {
                mapping.resize(capacity, NONE);
            }
        }
        self.mapping_size = capacity;
        self.mapping[..capacity].fill(NONE);
        self.width = 0;
        self.prev_edges_added = self.edges_added;
        self.edges_added = 0;
        for (i, col) in self.row() {
            if col == commit {
                self.commit_index = i;
                self.merge_layout = -1;
                for parent in self.parents.clone() {
                    self.insert(parent, Some(i));
                }
                if self.parents.is_empty() {
                    self.width += 2;
                }
            } else {
                self.insert(col, None);
            }
        }
        while self.mapping_size > 1 && self.mapping[self.mapping_size - 1] < 0 {
            self.mapping_size -= 1;
        }
    }

    /// The columns of the row the current commit is drawn in, with their commits:
    /// the commit's own column is one past the others when no child drew it.
    fn row(&self) -> Vec<(usize, ObjectId)> {
        let mut row: Vec<(usize, ObjectId)> = self.columns.iter().copied().enumerate().collect();
        if let Some(commit) = self.commit
            && !self.columns.contains(&commit)
        {
            row.push((self.columns.len(), commit));
        }
        row
    }

    /// Puts `id` in the next row's columns (once), and maps the next position of this
    /// row to it; `index` is the commit's column when `id` is one of its parents.
    fn insert(&mut self, id: ObjectId, index: Option<usize>) {
        let at = match self.new_columns.iter().position(|c| *c == id) {
            Some(at) => at,
            None => {
                self.new_columns.push(id);
                self.new_columns.len() - 1
            }
        };
        let mapping_index;
        match index {
            Some(index) if self.parents.len() > 1 && self.merge_layout == -1 => {
                // The first parent of a merge: lay the merge out by whether that
                // parent's column is left of the merge.
                let dist = index as i32 - at as i32;
                let shift = if dist > 1 { 2 * dist - 3 } else { 1 };
                self.merge_layout = if dist > 0 { 0 } else { 1 };
                self.edges_added = self.parents.len() as i32 + self.merge_layout - 2;
                mapping_index = (self.width as i32 + (self.merge_layout - 1) * shift) as usize;
                self.width += 2 * self.merge_layout as usize;
            }
            _ if self.edges_added > 0
                && self.width >= 2
                && self.mapping[self.width - 2] == at as i32 =>
            {
                // The merge's last line joins the column beside it at once.
                mapping_index = self.width - 2;
                self.edges_added = -1;
            }
            _ => {
                mapping_index = self.width;
                self.width += 2;
            }
        }
        self.mapping[mapping_index] = at as i32;
    }

    fn num_dashed_parents(&self) -> i32 {
        self.parents.len() as i32 + self.merge_layout - 3
    }

    fn needs_pre_commit_line(&self) -> bool {
        self.parents.len() >= 3
            && self.commit_index + 1 < self.columns.len()
            && (self.expansion_row as i32) < self.num_dashed_parents() * 2
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
        self.mapping[..self.mapping_size]
            .iter()
            .enumerate()
            .all(|(i, &t)| t < 0 || t as usize == i / 2)
    }

    /// The graph part of a separator line between two commits.
    pub fn padding_line(&mut self) -> String {
        if self.state != State::Commit {
            return self.next_line().0;
        }
        let mut line = String::new();
        for col in &self.columns {
            line.push('|');
            if Some(*col) == self.commit && self.parents.len() > 2 {
                line.push_str(&" ".repeat((self.parents.len() - 2) * 2));
            } else {
                line.push(' ');
            }
        }
        self.prev_state = State::Padding;
        self.pad(line)
    }

    fn set_state(&mut self, state: State) {
        self.prev_state = self.state;
        self.state = state;
    }

    /// The graph part of the next output line, and whether it is the commit's line.
    pub fn next_line(&mut self) -> (String, bool) {
        let line = match self.state {
            State::Padding => "| ".repeat(self.new_columns.len()),
            State::Skip => {
                let state = if self.needs_pre_commit_line() {
                    State::PreCommit
                } else {
                    State::Commit
                };
                self.set_state(state);
                "...".to_owned()
            }
            State::PreCommit => self.pre_commit_line(),
            State::Commit => {
                let line = self.commit_line();
                return (self.pad(line), true);
            }
            State::PostMerge => self.post_merge_line(),
            State::Collapsing => self.collapsing_line(),
        };
        (self.pad(line), false)
    }

    /// A row that widens the lines right of an octopus merge to make room for it.
    fn pre_commit_line(&mut self) -> String {
        let mut line = String::new();
        let mut seen = false;
        for (i, col) in self.columns.iter().enumerate() {
            if Some(*col) == self.commit {
                seen = true;
                line.push('|');
                line.push_str(&" ".repeat(self.expansion_row));
            } else if seen && self.expansion_row == 0 {
                // Lines that leaned after the previous merge go on leaning.
                if self.prev_state == State::PostMerge && self.prev_commit_index < i {
                    line.push('\\');
                } else {
                    line.push('|');
                }
            } else if seen {
                line.push('\\');
            } else {
                line.push('|');
            }
            line.push(' ');
        }
        self.expansion_row += 1;
        if !self.needs_pre_commit_line() {
            self.set_state(State::Commit);
        }
        line
    }

    fn commit_line(&mut self) -> String {
        let mut line = String::new();
        let mut seen = false;
        for (i, col) in self.row() {
            if Some(col) == self.commit {
                seen = true;
                line.push('*');
                if self.parents.len() > 2 {
                    let dashed = self.num_dashed_parents();
                    for d in 0..dashed {
                        line.push('-');
                        line.push(if d == dashed - 1 { '.' } else { '-' });
                    }
                }
            } else if seen && self.edges_added > 1 {
                line.push('\\');
            } else if seen && self.edges_added == 1 {
                // The first line of a skewed merge: a line that leaned after the
                // previous merge goes on leaning.
                if self.prev_state == State::PostMerge
                    && self.prev_edges_added > 0
                    && self.prev_commit_index < i
                {
                    line.push('\\');
                } else {
                    line.push('|');
                }
            } else if self.prev_state == State::Collapsing
                && self.old_mapping.get(2 * i + 1) == Some(&(i as i32))
                && self.mapping.get(2 * i).is_none_or(|&t| t < i as i32)
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
        line
    }

    fn post_merge_line(&mut self) -> String {
        const MERGE_CHARS: [char; 3] = ['/', '|', '\\'];
        let mut line = String::new();
        let mut seen = false;
        let first_parent = self.parents.first().copied();
        let mut parent_seen = false;
        for (i, col) in self.row() {
            if Some(col) == self.commit {
                seen = true;
                let mut idx = self.merge_layout as usize;
                for j in 0..self.parents.len() {
                    line.push(MERGE_CHARS[idx]);
                    if idx == 2 {
                        if self.edges_added > 0 || j + 1 < self.parents.len() {
                            line.push(' ');
                        }
                    } else {
                        idx += 1;
                    }
                }
                if self.edges_added == 0 {
                    line.push(' ');
                }
            } else if seen {
                line.push(if self.edges_added > 0 { '\\' } else { '|' });
                line.push(' ');
            } else {
                line.push('|');
                if self.merge_layout != 0 || i + 1 != self.commit_index {
                    line.push(if parent_seen { '_' } else { ' ' });
                }
            }
            if Some(col) == first_parent {
                parent_seen = true;
            }
        }
        self.set_state(if self.mapping_correct() {
            State::Padding
        } else {
            State::Collapsing
        });
        line
    }

    fn collapsing_line(&mut self) -> String {
        let size = self.mapping_size;
        std::mem::swap(&mut self.mapping, &mut self.old_mapping);
        if self.mapping.len() < size {
            self.mapping.resize(size, NONE);
        }
        self.mapping[..size].fill(NONE);
        let mut horizontal_edge: Option<usize> = None;
        let mut horizontal_target = NONE;
        for i in 0..size {
            let target = self.old_mapping[i];
            if target < 0 {
                continue;
            }
            let t = target as usize;
            if t * 2 == i {
                self.mapping[i] = target;
            } else if self.mapping[i - 1] < 0 {
                // Nothing to the left: move left by one.
                self.mapping[i - 1] = target;
                if horizontal_edge.is_none() {
                    horizontal_edge = Some(i);
                    horizontal_target = target;
                    for j in (t * 2 + 3..i.saturating_sub(2)).step_by(2) {
                        self.mapping[j] = target;
                    }
                }
            } else if self.mapping[i - 1] == target {
                // Joins the line to its left, which goes to the same place.
            } else {
                // Crosses the line to its left.
                self.mapping[i - 2] = target;
                if horizontal_edge.is_none() {
                    horizontal_target = target;
                    horizontal_edge = Some(i - 1);
                    for j in (t * 2 + 3..i.saturating_sub(2)).step_by(2) {
                        self.mapping[j] = target;
                    }
                }
            }
        }
        self.old_mapping[..size].copy_from_slice(&self.mapping[..size]);
        if self.mapping[size - 1] < 0 {
            self.mapping_size -= 1;
        }
        let mut line = String::new();
        let mut used_horizontal = false;
        for i in 0..self.mapping_size {
            let target = self.mapping[i];
            if target < 0 {
                line.push(' ');
            } else if target as usize * 2 == i {
                line.push('|');
            } else if target == horizontal_target && Some(i + 1) != horizontal_edge {
                // Only the first segment of the horizontal line goes on below.
                if i != target as usize * 2 + 3 {
                    self.mapping[i] = NONE;
                }
                used_horizontal = true;
                line.push('_');
            } else {
                if used_horizontal && horizontal_edge.is_some_and(|e| i < e) {
                    self.mapping[i] = NONE;
                }
                line.push('/');
            }
        }
        if self.mapping_correct() {
            self.set_state(State::Padding);
        }
        line
    }
}
