//! `livecart.toml`: every `serve` flag as a config file, with precedence
//! flag > env > file > default.
//!
//! The file is folded into the command line before clap parses it for real: each key is
//! a `serve` flag's long name (`max-conns` or `max_conns`), and is appended as that flag
//! only when the flag was neither given on the command line nor set by its environment
//! variable. So clap stays the one parser and validator, and the file can say nothing a
//! flag cannot. The file is `--config FILE` (`LIVECART_CONFIG`), else `./livecart.toml`
//! if it exists.

use clap::CommandFactory;
use clap::parser::ValueSource;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The config file read when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "livecart.toml";

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("parsing {0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("{0}: unknown key `{1}` (keys are `livecart serve` flags, e.g. `max-conns`)")]
    UnknownKey(PathBuf, String),
    #[error("{0}: key `{1}` must be {2}")]
    BadValue(PathBuf, String, &'static str),
}

/// `argv` with the `serve` config file's settings appended where neither a flag nor an
/// environment variable set them. Any other command, or a command line clap refuses, is
/// returned as it is (clap then reports it).
pub fn fold(argv: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    let mut cmd = super::Cli::command();
    cmd.build();
    let Ok(matches) = cmd.clone().try_get_matches_from(&argv) else {
        return Ok(argv);
    };
    let Some(("serve", serve)) = matches.subcommand() else {
        return Ok(argv);
    };
    let path = match serve.get_one::<PathBuf>("config") {
        Some(path) => path.clone(),
        None if Path::new(DEFAULT_FILE).exists() => PathBuf::from(DEFAULT_FILE),
        None => return Ok(argv),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read(path.clone(), e))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| ConfigError::Parse(path.clone(), e))?;
    let Some(serve_cmd) = cmd.find_subcommand("serve") else {
        return Ok(argv);
    };
    let mut argv = argv;
    for (key, value) in table {
        let long = key.replace('_', "-");
        let arg = serve_cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config")
            .ok_or_else(|| ConfigError::UnknownKey(path.clone(), key.clone()))?;
        let given = matches!(
            serve.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if given {
            continue;
        }
        let flag = format!("--{long}");
        let is_switch = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        let bad = |what| ConfigError::BadValue(path.clone(), key.clone(), what);
        match value {
            toml::Value::Boolean(on) if is_switch => {
                if on {
                    argv.push(flag.into());
                }
            }
            _ if is_switch => return Err(bad("true or false")),
            toml::Value::Array(items) => {
                for item in items {
                    argv.push(
                        format!(
                            "{flag}={}",
                            scalar(&item).ok_or_else(|| bad("a list of strings or numbers"))?
                        )
                        .into(),
                    );
                }
            }
            other => {
                let v = scalar(&other).ok_or_else(|| bad("a string, a number or a boolean"))?;
                argv.push(format!("{flag}={v}").into());
            }
        }
    }
    Ok(argv)
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn serve_args(argv: &[&str]) -> Result<super::super::serve::ServeArgs, ConfigError> {
        let argv = fold(argv.iter().map(OsString::from).collect())?;
        match super::super::Cli::try_parse_from(argv)
            .expect("parses")
            .command
        {
            super::super::Command::Serve(args) => Ok(args),
            _ => panic!("not serve"),
        }
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let f = file(
            "max-conns = 7\nmax_conns_per_ip = 9\nno-demo-stream = true\n\
             drain-timeout-ms = 1500\nrtsp-pull = [\"cam=rtsp://h/a\", \"cam2=rtsp://h/b\"]\n",
        );
        let config = f.path().to_str().expect("utf-8");
        let args = serve_args(&["livecart", "serve", "--config", config, "--max-conns", "3"])
            .expect("folds");
        assert_eq!(args.max_conns, 3, "the flag wins");
        if std::env::var_os("LIVECART_MAX_CONNS_PER_IP").is_none() {
            assert_eq!(args.max_conns_per_ip, 9, "the file beats the default");
        }
        if std::env::var_os("LIVECART_DRAIN_TIMEOUT_MS").is_none() {
            assert_eq!(args.drain_timeout_ms, 1500);
        }
        assert!(args.media.no_demo_stream);
        assert_eq!(args.media.rtsp_pull.len(), 2);
        let defaults = serve_args(&["livecart", "serve"]).expect("no file");
        if std::env::var_os("LIVECART_MAX_CONNS_PER_IP").is_none() {
            assert_eq!(
                defaults.max_conns_per_ip, 1_000,
                "the default without a file"
            );
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_by_name() {
        let f = file("max-connections = 7\n");
        let config = f.path().to_str().expect("utf-8");
        let e = serve_args(&["livecart", "serve", "--config", config]).expect_err("unknown");
        assert!(
            e.to_string().contains("unknown key `max-connections`"),
            "{e}"
        );
        let f = file("no-demo-stream = \"yes\"\n");
        let config = f.path().to_str().expect("utf-8");
        let e = serve_args(&["livecart", "serve", "--config", config]).expect_err("type");
        assert!(e.to_string().contains("must be true or false"), "{e}");
    }
}
