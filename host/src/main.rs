//! The `livecart` binary: `serve`, `plugin …`, `admin …` and `bench …`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // `serve`'s config file is folded into the command line first (flag > env > file).
    let argv = match livecart::cli::config::fold(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let cli = livecart::cli::Cli::parse_from(argv);
    livecart::cli::init_tracing(cli.verbose, cli.log_format);
    match livecart::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
