//! A typed line into arguments, with redis-cli's quoting rules (`sdssplitargs`): double
//! quotes with `\n \r \t \b \a \\ \" \xNN` escapes, single quotes with only `\'`, and a
//! closing quote that must end the argument.

/// The arguments of `line`, or `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut p = 0;
    let at = |i: usize| line.get(i).copied();
    loop {
        while at(p).is_some_and(|c| c.is_ascii_whitespace()) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = at(p);
            if in_double {
                match c {
                    None => return None,
                    Some(b'\\')
                        if at(p + 1) == Some(b'x')
                            && at(p + 2).is_some_and(|c| c.is_ascii_hexdigit())
                            && at(p + 3).is_some_and(|c| c.is_ascii_hexdigit()) =>
                    {
                        let hex = std::str::from_utf8(&line[p + 2..p + 4]).ok()?;
                        current.push(u8::from_str_radix(hex, 16).ok()?);
                        p += 3;
                    }
                    Some(b'\\') if at(p + 1).is_some() => {
                        p += 1;
                        current.push(match line[p] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if at(p + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        p += 1;
                        break;
                    }
                    Some(c) => current.push(c),
                }
            } else if in_single {
                match c {
                    None => return None,
                    Some(b'\\') if at(p + 1) == Some(b'\'') => {
                        p += 1;
                        current.push(b'\'');
                    }
                    Some(b'\'') => {
                        if at(p + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        p += 1;
                        break;
                    }
                    Some(c) => current.push(c),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t' | b'\0') => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(c) => current.push(c),
                }
            }
            p += 1;
        }
        args.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn quoting() {
        assert_eq!(
            split("  set k  v "),
            Some(vec!["set".into(), "k".into(), "v".into()])
        );
        assert_eq!(
            split(r#"set "a b" 'c d'"#),
            Some(vec!["set".into(), "a b".into(), "c d".into()])
        );
        assert_eq!(
            split(r#""\x41\n\"" 'it\'s'"#),
            Some(vec!["A\n\"".into(), "it's".into()])
        );
        assert_eq!(split_args(br#""\xff""#), Some(vec![vec![0xff]]));
        assert_eq!(split(r#""unterminated"#), None);
        assert_eq!(split(r#""a"b"#), None);
        assert_eq!(split(""), Some(vec![]));
        assert_eq!(split(r#""""#), Some(vec![String::new()]));
    }
}
