use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    badgegate::http::cli::run(badgegate::config::Cli::parse()).await
}
