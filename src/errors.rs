//! Errors told on one line: an error and its causes, for messages that go where a
//! chain cannot (a notice's log line, a retry's reason, a rebuild that failed).

/// `error` and its causes joined by ": ". A cause whose text the line already holds
/// (libraries often repeat their source in their own message) is left out.
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Failure {
        text: &'static str,
        cause: Option<Box<Failure>>,
    }

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.text)
        }
    }

    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.cause.as_deref().map(|cause| cause as _)
        }
    }

    fn chain(texts: &[&'static str]) -> Failure {
        texts
            .iter()
            .rev()
            .fold(None, |cause, text| {
                Some(Failure {
                    text,
                    cause: cause.map(Box::new),
                })
            })
            .expect("at least one text")
    }

    #[test]
    fn causes_follow_the_error() {
        assert_eq!(one_line(&chain(&["alone"])), "alone");
        assert_eq!(
            one_line(&chain(&[
                "Failed to render 'page.html'",
                "Variable `x` not found"
            ])),
            "Failed to render 'page.html': Variable `x` not found"
        );
    }

    #[test]
    fn a_cause_already_told_is_left_out() {
        assert_eq!(
            one_line(&chain(&[
                "connection error: connection refused",
                "connection refused",
                "os error 111"
            ])),
            "connection error: connection refused: os error 111"
        );
    }
}
