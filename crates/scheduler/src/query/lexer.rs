//! Tokens of the cluster query language, each with its character position.

use super::error::QueryError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A bare word or a quoted string (`quoted` tells which).
    Word {
        text: String,
        quoted: bool,
    },
    /// `==`, `!=`, `>=`, `<=`, `>`, `<`, `=~`, `!~`.
    Symbol(&'static str),
    Not,
    And,
    Or,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub position: usize,
}

const SYMBOLS: &[&str] = &["==", "!=", ">=", "<=", "=~", "!~", "&&", "||", ">", "<", "!"];

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '[' | ']' | ',' | '=' | '!' | '<' | '>' | '&' | '|' | '\'' | '"')
}

pub fn tokenize(input: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(tok) = single {
            out.push(Token { tok, position: i });
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let start = i;
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                text.push(chars[i]);
                i += 1;
            }
            if i == chars.len() {
                return Err(QueryError { position: start, message: format!("unterminated string starting with {c}") });
            }
            i += 1;
            out.push(Token { tok: Tok::Word { text, quoted: true }, position: start });
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if let Some(sym) = SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            // `!exists`, `!in` and `!(` read as a negation followed by the rest.
            let tok = match *sym {
                "&&" => Tok::And,
                "||" => Tok::Or,
                "!" => Tok::Not,
                s => Tok::Symbol(s),
            };
            out.push(Token { tok, position: i });
            i += sym.chars().count();
            continue;
        }
        if !is_word_char(c) {
            return Err(QueryError { position: i, message: format!("unexpected character '{c}'") });
        }
        let start = i;
        let mut text = String::new();
        while i < chars.len() && is_word_char(chars[i]) {
            text.push(chars[i]);
            i += 1;
        }
        let tok = match text.as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            _ => Tok::Word { text, quoted: false },
        };
        out.push(Token { tok, position: start });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn word(s: &str) -> Tok {
        Tok::Word { text: s.into(), quoted: false }
    }

    #[test]
    fn words_symbols_and_keywords() {
        assert_eq!(
            toks("attribute:ecs.instance-type =~ t2.* and not(x != 'a b')"),
            vec![
                word("attribute:ecs.instance-type"),
                Tok::Symbol("=~"),
                word("t2.*"),
                Tok::And,
                Tok::Not,
                Tok::LParen,
                word("x"),
                Tok::Symbol("!="),
                Tok::Word { text: "a b".into(), quoted: true },
                Tok::RParen
            ]
        );
        assert_eq!(toks("a in [x, 'y']").len(), 7);
        assert_eq!(toks("!exists"), vec![Tok::Not, word("exists")]);
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(tokenize("a == 'oops").unwrap_err().position, 5);
    }
}
