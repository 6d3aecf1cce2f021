//! What `main` runs: parse, dispatch, exit code.

use std::io::BufRead;
use std::process::ExitCode;

use crate::auth::{Role, users};
use crate::config::{AdminCommand, Cli, Command, StaffRoleArg};
use crate::db::Db;
use crate::error::AppError;

pub async fn run(cli: Cli) -> ExitCode {
    crate::telemetry::init(cli.settings.log_format);
    // Before any command can create the data dir, the database or a secret.
    crate::datadir::restrict_new_files();
    match cli.command {
        Command::Serve => match crate::http::server::Application::build(cli.settings).await {
            Ok(app) => match app.run_until_stopped().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "server failed");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("badgegate: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Admin { command: AdminCommand::Create { email, role } } => {
            let role = match role {
                StaffRoleArg::Admin => Role::Admin,
                StaffRoleArg::Registrar => Role::Registrar,
            };
            let mut line = String::new();
            if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
                eprintln!("badgegate: cannot read the password from standard input: {e}");
                return ExitCode::FAILURE;
            }
            // Only the line ending is removed: every other character is part of the password.
            let password = line.strip_suffix('\n').unwrap_or(&line);
            let password = password.strip_suffix('\r').unwrap_or(password).to_string();
            if let Err(e) = std::fs::create_dir_all(&cli.settings.data_dir) {
                eprintln!("badgegate: cannot create data dir: {e}");
                return ExitCode::FAILURE;
            }
            let result = Db::connect(&cli.settings.database_url(), 1).and_then(|db| {
                db.write_blocking(|conn| users::create_staff_blocking(conn, &email, &password, role)).map_err(describe)
            });
            match result {
                Ok(id) => {
                    println!("created {} account {id}", role.as_str());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("badgegate: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Purge { compact } => {
            let url = cli.settings.database_url();
            if let Ok(parsed) = crate::db::DbUrl::parse(&url)
                && parsed.backend == crate::db::Backend::Sqlite
                && !std::path::Path::new(&parsed.target).exists()
            {
                eprintln!("badgegate: no database at {}", parsed.target);
                return ExitCode::FAILURE;
            }
            // The retention purge compacts by itself when it removed anything; `--compact`
            // rewrites the tables even when it did not (the nightly run after erasures).
            let result = actix_web::web::block(move || {
                let db = Db::connect(&url, 1)?;
                let purged = crate::retention::purge_due(&db, crate::db::now_ms())?;
                if compact && purged.is_empty() {
                    db.compact()?;
                }
                Ok::<_, String>(purged)
            })
            .await;
            match result {
                Ok(Ok(purged)) => {
                    if purged.is_empty() {
                        println!("retention: no event past its retention period");
                    }
                    for p in &purged {
                        println!(
                            "retention: event {} purged: {} notes cleared, {} ledger rows kept as {} daily counts, \
                             {} messages deleted, {} erased participants compacted",
                            p.event_id,
                            p.notes_cleared,
                            p.ledger_rows,
                            p.count_rows,
                            p.mail_deleted,
                            p.erased_compacted
                        );
                    }
                    if compact || !purged.is_empty() {
                        println!("compacted: no old row version remains in the database files");
                    }
                    ExitCode::SUCCESS
                }
                Ok(Err(e)) => {
                    eprintln!("badgegate: {e}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("badgegate: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Openapi => match serde_json::to_string_pretty(&crate::http::routes::openapi()) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("badgegate: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn describe(e: AppError) -> String {
    match e {
        AppError::Validation(errors) => {
            errors.iter().map(|f| format!("{} {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}
