//! Getting a password from the user: from a file (or stdin) for scripts, else from the terminal.

use crate::exit::CliError;
use mailseal_protocol::Secret;
use std::io::BufRead;
use std::path::Path;

/// Reads a secret from `file` (`-` is stdin; only the first line counts) or asks on the terminal.
pub fn read(file: Option<&Path>, prompt: &str) -> Result<Secret, CliError> {
    let mut line = String::new();
    match file {
        Some(path) if path == Path::new("-") => {
            std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                CliError::Local(format!("cannot read the password from stdin: {e}"))
            })?;
        }
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::Local(format!(
                    "cannot read the password file {}: {e}",
                    path.display()
                ))
            })?;
            line = text.lines().next().unwrap_or_default().to_owned();
            drop(Secret::new(text));
        }
        None => {
            line = rpassword::prompt_password(prompt).map_err(|e| {
                CliError::Local(format!(
                    "cannot ask for the password ({e}); give it with --password-file FILE or - for stdin"
                ))
            })?;
        }
    }
    let trimmed_len = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(trimmed_len);
    Ok(Secret::new(line))
}
