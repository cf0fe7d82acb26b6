//! What a person reads: counts with their noun in the right number, and endpoint URLs with any
//! password taken out.
//!
//! Redaction is a display wrapper, [`Redacted`], applied where an endpoint is *shown* (start line,
//! export lines, error messages, summaries), while the request itself keeps the URL as given, so
//! credentials in it (`http://user:password@host`) still authenticate. The alternative, stripping
//! the credentials from the configuration once, would have silently dropped the basic
//! authentication the user asked for.

use std::fmt;

/// `1 trace`, `2 traces`, `0 traces`: `word` is the singular, the plural adds `s`.
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// An endpoint URL as shown: the user-info part (`user:password@`) replaced by `***@`. Works on
/// URLs with a scheme and on gRPC's `host:port` form, and leaves anything else unchanged.
#[derive(Clone, Copy, Debug)]
pub struct Redacted<'a>(pub &'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        let start = url.find("://").map_or(0, |i| i + 3);
        let authority_len = url[start..]
            .find(['/', '?', '#'])
            .unwrap_or(url.len() - start);
        let authority = &url[start..start + authority_len];
        match authority.rfind('@') {
            Some(at) => write!(
                f,
                "{}***{}",
                &url[..start],
                &url[start + at..] // from the '@' on
            ),
            None => f.write_str(url),
        }
    }
}

/// [`Redacted`] as a `String`.
pub fn redact(url: &str) -> String {
    Redacted(url).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_the_right_number() {
        assert_eq!(plural(0, "trace"), "0 traces");
        assert_eq!(plural(1, "trace"), "1 trace");
        assert_eq!(plural(2, "span"), "2 spans");
    }

    #[test]
    fn user_info_is_redacted_and_the_rest_kept() {
        for (url, shown) in [
            (
                "http://alice:PASSW0RD@127.0.0.1:4318/v1/traces",
                "http://***@127.0.0.1:4318/v1/traces",
            ),
            ("https://token@collector:4318", "https://***@collector:4318"),
            ("alice:pw@collector:4317", "***@collector:4317"),
            // An '@' in the path or query is not user info.
            (
                "http://collector:4318/v1/traces?by=a@b",
                "http://collector:4318/v1/traces?by=a@b",
            ),
            // A password with an '@' in it: everything up to the last '@' of the authority.
            ("http://u:p@ss@host/x", "http://***@host/x"),
            ("http://localhost:4318", "http://localhost:4318"),
            ("", ""),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
