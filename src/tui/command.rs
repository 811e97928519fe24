//! Chat commands: input lines that start with `/` and act on the chat instead of being asked.

use std::path::PathBuf;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Image(ImageCommand),
    /// An unknown `/word`, slash included.
    Unknown(String),
}

/// The forms of `/image`.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageCommand {
    /// `/image` without an argument.
    Usage,
    /// `/image FILE`: attach the file to the next question.
    Attach(PathBuf),
    /// `/image clear`: drop the attached images.
    Clear,
}

impl Command {
    /// Parses a trimmed input line, or returns `None` for a question.
    ///
    /// The argument of `/image` is everything after the command word, so a path may contain
    /// spaces, and one pair of surrounding quotes (as a pasted path often has) is removed. A file
    /// named `clear` is attached as `/image ./clear`.
    pub fn parse(input: &str) -> Option<Self> {
        let rest = input.strip_prefix('/')?;
        let (word, argument) = match rest.split_once(char::is_whitespace) {
            Some((word, argument)) => (word, argument.trim()),
            None => (rest, ""),
        };

        let command = match word {
            "image" => Self::Image(match unquote(argument) {
                "" => ImageCommand::Usage,
                "clear" => ImageCommand::Clear,
                path => ImageCommand::Attach(PathBuf::from(path)),
            }),
            _ => Self::Unknown(format!("/{word}")),
        };
        Some(command)
    }
}

/// Removes one pair of matching double or single quotes around the text.
fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|rest| rest.strip_suffix(quote)) {
            return inner;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attach(path: &str) -> Option<Command> {
        Some(Command::Image(ImageCommand::Attach(PathBuf::from(path))))
    }

    #[test]
    fn questions_are_not_commands() {
        assert_eq!(Command::parse("How do I attach an image?"), None);
        assert_eq!(Command::parse("what is /image for?"), None);
    }

    #[test]
    fn image_forms() {
        assert_eq!(Command::parse("/image"), Some(Command::Image(ImageCommand::Usage)));
        assert_eq!(Command::parse("/image   "), Some(Command::Image(ImageCommand::Usage)));
        assert_eq!(Command::parse("/image clear"), Some(Command::Image(ImageCommand::Clear)));
        assert_eq!(Command::parse("/image pump.png"), attach("pump.png"));
        assert_eq!(Command::parse("/image ./clear"), attach("./clear"));
    }

    #[test]
    fn image_path_keeps_spaces_and_loses_quotes() {
        assert_eq!(Command::parse("/image /home/li/My Pictures/pump 2.png"), attach("/home/li/My Pictures/pump 2.png"));
        assert_eq!(Command::parse("/image \"/tmp/a b.png\""), attach("/tmp/a b.png"));
        assert_eq!(Command::parse("/image '/tmp/a b.png'"), attach("/tmp/a b.png"));
        assert_eq!(Command::parse("/image \"/tmp/a.png'"), attach("\"/tmp/a.png'"), "quotes that do not match stay");
        assert_eq!(Command::parse("/image\tpump.png"), attach("pump.png"));
    }

    #[test]
    fn unknown_word_keeps_its_slash() {
        assert_eq!(Command::parse("/help"), Some(Command::Unknown("/help".into())));
        assert_eq!(Command::parse("/images pump.png"), Some(Command::Unknown("/images".into())));
        assert_eq!(Command::parse("/"), Some(Command::Unknown("/".into())));
    }
}
