//! The `livecart` binary: `serve`, `plugin …`, `admin …` and `bench …`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = livecart::cli::Cli::parse();
    livecart::cli::init_tracing(cli.verbose, cli.log_format);
    match livecart::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
