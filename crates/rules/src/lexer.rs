//! Tokens of the rule language, with their character offsets.

use crate::RuleError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Int(i64),
    /// Money in fen (written 100元 or 50.5元).
    Money(i64),
    Text(String),
    Word(String),
    Param(String),
    Kw(Kw),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kw {
    And,
    Or,
    Not,
    Within,
    Contains,
    If,
    Then,
    Else,
    True,
    False,
}

pub const KEYWORDS: [(&str, Kw); 10] = [
    ("且", Kw::And),
    ("或", Kw::Or),
    ("非", Kw::Not),
    ("属于", Kw::Within),
    ("包含", Kw::Contains),
    ("如果", Kw::If),
    ("则", Kw::Then),
    ("否则", Kw::Else),
    ("是", Kw::True),
    ("否", Kw::False),
];

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Int(n) => format!("数字 {n}"),
            Tok::Money(f) => format!("金额 {}元", yanglao_domain::Fen::new(*f)),
            Tok::Text(s) => format!("文字 \"{s}\""),
            Tok::Word(w) => format!("“{w}”"),
            Tok::Param(p) => format!("参数【{p}】"),
            Tok::Kw(k) => format!(
                "“{}”",
                KEYWORDS.iter().find(|(_, x)| x == k).map(|(s, _)| *s).unwrap_or("?")
            ),
            Tok::LParen => "“(”".into(),
            Tok::RParen => "“)”".into(),
            Tok::LBracket => "“[”".into(),
            Tok::RBracket => "“]”".into(),
            Tok::Eq => "“=”".into(),
            Tok::Ne => "“≠”".into(),
            Tok::Lt => "“<”".into(),
            Tok::Le => "“≤”".into(),
            Tok::Gt => "“>”".into(),
            Tok::Ge => "“≥”".into(),
            Tok::Plus => "“+”".into(),
            Tok::Minus => "“-”".into(),
            Tok::Star => "“*”".into(),
            Tok::End => "规则结尾".into(),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphabetic() || c == '_' || ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Splits a source into tokens: (token, start, end) in characters.
pub fn lex(source: &str) -> Result<Vec<(Tok, usize, usize)>, RuleError> {
    let chars: Vec<char> = source.chars().collect();
    let words = crate::vocab::words();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, msg: String| RuleError::at(source, at, msg);
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let (tok, len) = match c {
            '(' | '（' => (Tok::LParen, 1),
            ')' | '）' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            '+' => (Tok::Plus, 1),
            '-' => (Tok::Minus, 1),
            '*' | '×' => (Tok::Star, 1),
            '=' if two == "==" => (Tok::Eq, 2),
            '=' => (Tok::Eq, 1),
            '≠' => (Tok::Ne, 1),
            '!' if two == "!=" => (Tok::Ne, 2),
            '≥' => (Tok::Ge, 1),
            '≤' => (Tok::Le, 1),
            '>' if two == ">=" => (Tok::Ge, 2),
            '>' => (Tok::Gt, 1),
            '<' if two == "<=" => (Tok::Le, 2),
            '<' => (Tok::Lt, 1),
            '"' | '“' | '”' => {
                let close: &[char] = if c == '"' { &['"'] } else { &['”', '"'] };
                let mut j = i + 1;
                while j < chars.len() && !close.contains(&chars[j]) {
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(err(start, "文字缺少结束引号".into()));
                }
                (Tok::Text(chars[i + 1..j].iter().collect()), j + 1 - i)
            }
            '【' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != '】' {
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(err(start, "参数名缺少“】”".into()));
                }
                let name: String = chars[i + 1..j].iter().collect::<String>().trim().to_string();
                if name.is_empty() {
                    return Err(err(start, "参数名为空".into()));
                }
                (Tok::Param(name), j + 1 - i)
            }
            d if d.is_ascii_digit() => {
                let mut j = i;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                let mut frac = String::new();
                if j < chars.len() && chars[j] == '.' {
                    let mut k = j + 1;
                    while k < chars.len() && chars[k].is_ascii_digit() {
                        k += 1;
                    }
                    frac = chars[j + 1..k].iter().collect();
                    j = k;
                }
                let int: String = chars[i..j].iter().take_while(|c| c.is_ascii_digit()).collect();
                if j < chars.len() && chars[j] == '元' {
                    let text = if frac.is_empty() {
                        int.clone()
                    } else {
                        format!("{int}.{frac}")
                    };
                    let fen = yanglao_domain::Fen::parse_yuan(&text).map_err(|e| err(start, e.to_string()))?;
                    (Tok::Money(fen.get()), j + 1 - i)
                } else if !frac.is_empty() {
                    return Err(err(
                        start,
                        format!("小数 {int}.{frac} 只能用于金额（写作 {int}.{frac}元）"),
                    ));
                } else {
                    let n: i64 = int.parse().map_err(|_| err(start, format!("数字 {int} 过大")))?;
                    (Tok::Int(n), j - i)
                }
            }
            w if is_word_char(w) => {
                let rest: String = chars[i..].iter().collect();
                match words.iter().find(|w| rest.starts_with(**w)) {
                    Some(w) => {
                        let n = w.chars().count();
                        let tok = match KEYWORDS.iter().find(|(k, _)| k == w) {
                            Some((_, kw)) => Tok::Kw(*kw),
                            None => Tok::Word(w.to_string()),
                        };
                        (tok, n)
                    }
                    None => {
                        let mut j = i;
                        while j < chars.len() && is_word_char(chars[j]) {
                            j += 1;
                        }
                        let unknown: String = chars[i..j].iter().collect();
                        return Err(err(start, format!("不认识的词“{unknown}”（可用的信息项见规则说明）")));
                    }
                }
            }
            other => return Err(err(start, format!("不能识别的字符“{other}”"))),
        };
        out.push((tok, start, start + len));
        i += len;
    }
    out.push((Tok::End, chars.len(), chars.len()));
    Ok(out)
}
