//! SQL text as SQLite reads it, just far enough to find statement ends and
//! placeholders outside strings, quoted names and comments.

/// Where the scanner is.
#[derive(Clone, Copy, PartialEq)]
enum State {
    Code,
    Quoted(char),
    LineComment,
    BlockComment,
}

/// What a character of SQL text is part of.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Code,
    Quoted,
    Comment,
}

/// Calls `f` with every character and what it is part of.
fn scan(sql: &str, mut f: impl FnMut(char, Kind)) {
    let mut state = State::Code;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let (kind, after) = match (state, c, next) {
            (State::Code, '\'' | '"' | '`', _) => (Kind::Quoted, State::Quoted(c)),
            (State::Code, '[', _) => (Kind::Quoted, State::Quoted(']')),
            (State::Code, '-', Some('-')) => (Kind::Comment, State::LineComment),
            (State::Code, '/', Some('*')) => (Kind::Comment, State::BlockComment),
            (State::Code, _, _) => (Kind::Code, State::Code),
            (State::Quoted(end), c, _) if c == end => (Kind::Quoted, State::Code),
            (State::Quoted(_), _, _) => (Kind::Quoted, state),
            (State::LineComment, '\n', _) => (Kind::Code, State::Code),
            (State::BlockComment, '*', Some('/')) => {
                f(c, Kind::Comment);
                f(chars.next().expect("peeked"), Kind::Comment);
                state = State::Code;
                continue;
            }
            (State::LineComment | State::BlockComment, _, _) => (Kind::Comment, state),
        };
        f(c, kind);
        state = after;
    }
}

/// The platform's `$N` placeholders as SQLite's `?N`, which bind to the
/// Nth parameter wherever they appear (Spin binds parameters by index).
pub fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut previous_code_dollar = false;
    scan(sql, |c, kind| {
        let dollar = kind == Kind::Code && c == '$';
        if previous_code_dollar {
            out.push(if c.is_ascii_digit() { '?' } else { '$' });
        }
        if !dollar {
            out.push(c);
        }
        previous_code_dollar = dollar;
    });
    if previous_code_dollar {
        out.push('$');
    }
    out
}

/// A script's statements (a migration), each without its `;`. A
/// `CREATE TRIGGER`'s body keeps its inner `;` up to its `END`.
pub fn split(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    scan(script, |c, kind| {
        if kind == Kind::Code && c == ';' && !inside_trigger(&current) {
            push_statement(&mut statements, &mut current);
        } else {
            current.push(c);
        }
    });
    push_statement(&mut statements, &mut current);
    statements
}

fn push_statement(statements: &mut Vec<String>, current: &mut String) {
    let statement = std::mem::take(current);
    if !without_comments(&statement).trim().is_empty() {
        statements.push(statement.trim().to_owned());
    }
}

fn without_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    scan(sql, |c, kind| {
        if kind != Kind::Comment {
            out.push(c);
        }
    });
    out
}

/// Whether `statement` so far is a `CREATE TRIGGER` whose body has not ended.
fn inside_trigger(statement: &str) -> bool {
    let text = without_comments(statement).to_ascii_uppercase();
    let words: Vec<&str> = text.split_whitespace().collect();
    let trigger =
        matches!(words.as_slice(), ["CREATE", "TRIGGER", ..] | ["CREATE", "TEMP" | "TEMPORARY", "TRIGGER", ..]);
    trigger && words.last().is_none_or(|w| *w != "END")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_placeholders_outside_strings() {
        assert_eq!(
            numbered_placeholders("SELECT '$1', \"$2\" FROM t WHERE a = $1 OR b = $12 -- $3\n AND c = '$'"),
            "SELECT '$1', \"$2\" FROM t WHERE a = ?1 OR b = ?12 -- $3\n AND c = '$'"
        );
        assert_eq!(numbered_placeholders("SELECT $"), "SELECT $");
    }

    #[test]
    fn splits_scripts_keeping_trigger_bodies() {
        let script = "-- a comment; with a semicolon\nCREATE TABLE t (a TEXT DEFAULT ';');\n\
                      CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'x'; END;\n/* done; */\n";
        assert_eq!(
            split(script),
            vec![
                "-- a comment; with a semicolon\nCREATE TABLE t (a TEXT DEFAULT ';')",
                "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'x'; END",
            ]
        );
    }
}
