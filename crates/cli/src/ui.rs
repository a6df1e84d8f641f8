//! How user commands talk back: progress (an indicatif spinner on a terminal, plain
//! timestamped lines otherwise) and results (text, `--output json`, and `--output-env FILE`
//! lines a CI step can read).

use std::{io::IsTerminal, io::Write, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `--output` and `--output-env`, shared by the user commands.
#[derive(Args, Clone)]
pub struct OutputArgs {
    /// `json` prints one machine-readable result on stdout (progress goes to stderr).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Format,
    /// Append KEY=VALUE lines (BERTH_TASK_ARN=…) to this file for later CI steps.
    #[arg(long)]
    pub output_env: Option<PathBuf>,
}

impl OutputArgs {
    pub fn json(&self) -> bool {
        self.output == Format::Json
    }

    /// Prints the result: `text` in text mode, `json` in JSON mode; appends `env` lines.
    pub fn emit(&self, text: &str, json: &Value, env: &[(&str, String)]) -> anyhow::Result<()> {
        if self.json() {
            outln!("{}", serde_json::to_string_pretty(json)?);
        } else if !text.is_empty() {
            outln!("{text}");
        }
        if let Some(path) = &self.output_env {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
            for (k, v) in env {
                writeln!(f, "{k}={v}")?;
            }
        }
        Ok(())
    }

    pub fn progress(&self) -> Progress {
        Progress::new(self.json())
    }
}

/// Live progress. In JSON mode it writes to stderr so stdout stays machine-readable.
pub struct Progress {
    bar: Option<ProgressBar>,
    stderr: bool,
}

impl Progress {
    pub fn new(to_stderr: bool) -> Progress {
        let terminal = if to_stderr { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
        let bar = terminal.then(|| {
            let bar = if to_stderr {
                ProgressBar::new_spinner()
            } else {
                ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stdout())
            };
            bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").expect("valid template"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar, stderr: to_stderr }
    }

    /// A line that stays (an event, a result).
    pub fn line(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None => self.plain(message),
        }
    }

    /// The current state (replaces the previous one on a terminal).
    pub fn status(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(message.replace('\n', " | ")),
            None => self.plain(message),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn plain(&self, message: &str) {
        let stamp = timestamp();
        let text: String = message.lines().map(|l| format!("{stamp} {l}\n")).collect();
        if self.stderr {
            eprint!("{text}");
        } else {
            if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()).and_then(|()| std::io::stdout().flush())
            {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    std::process::exit(0);
                }
            }
        }
    }
}

/// The current UTC time as `2026-11-22T04:30:01Z`.
pub fn timestamp() -> String {
    format_time(berth_model::time::now() as i64)
}

/// Epoch seconds as `2026-11-22T04:30:01Z`.
pub fn format_time(secs: i64) -> String {
    let (y, m, d) = berth_model::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}
