//! `estrade`: the one binary. Each subcommand picks a role; the work itself
//! lives in the library crates, so `main` only parses, configures and wires.

mod dev;
mod healthcheck;
mod run;
mod shutdown;
mod telemetry;

use clap::{Parser, Subcommand};
use estrade_core::config::{Config, DatabaseConfig, LogConfig};
use estrade_core::domain::AccountRole;

/// Control plane for live, two-way teaching on LiveKit.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (and /metrics on the metrics listener).
    Serve,
    /// Run the queue consumers and scheduled jobs.
    Worker,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Administrative tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Compare LiveKit with PostgreSQL and repair the difference; print the
    /// report as JSON. Exits 1 if the run failed, 3 if another run is in
    /// progress.
    Reconcile {
        /// Run once and exit (the worker runs it on a schedule).
        #[arg(long, required = true)]
        once: bool,
    },
    /// Probe a local HTTP endpoint (the container healthcheck: the image has
    /// no shell or curl). Exits 0 when it answers 2xx.
    Healthcheck {
        /// Address to ask.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Path to GET (`/readyz` for the API, `/metrics` for the worker's
        /// metrics listener).
        #[arg(long, default_value = "/healthz")]
        path: String,
    },
    /// Run everything locally in one process, starting PostgreSQL, Redis and
    /// a LiveKit stand-in where no URL is configured.
    Dev(dev::DevArgs),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account with an API key and print the key once.
    CreateKey {
        /// Name of the new account.
        #[arg(long)]
        name: String,
        /// `admin` or `teacher`.
        #[arg(long)]
        role: AccountRole,
    },
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // No logging, no runtime: a probe runs every few seconds.
    if let Command::Healthcheck { addr, path } = &cli.command {
        return match healthcheck::probe(*addr, path) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("unhealthy: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let log = match LogConfig::from_lookup(env) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let log = match &cli.command {
        // A person at a terminal reads `dev`'s output.
        Command::Dev(_) if env("ESTRADE_LOG_FORMAT").is_none() => LogConfig {
            format: estrade_core::config::LogFormat::Pretty,
            ..log
        },
        _ => log,
    };
    if let Err(e) = telemetry::init(&log) {
        eprintln!("{e:#}");
        return std::process::ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Configuration errors carry their own multi-line explanation.
            tracing::error!(error = format!("{e:#}"), "estrade stopped");
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let config = Config::from_env()?;
            run::serve(config, shutdown::on_signal()?).await
        }
        Command::Worker => {
            let config = Config::from_env()?;
            run::worker(config, shutdown::on_signal()?).await
        }
        Command::Migrate => {
            let db = DatabaseConfig::from_lookup(env)?;
            run::migrate(&db).await
        }
        Command::Admin(AdminCommand::CreateKey { name, role }) => {
            let db = DatabaseConfig::from_lookup(env)?;
            let (key, _account_id) = run::create_key(&db, &name, role).await?;
            // The only place a key is ever shown; stdout, so it can be piped.
            println!("{}", key.expose());
            Ok(())
        }
        Command::Dev(args) => dev::run(args, shutdown::on_signal()?).await,
        Command::Healthcheck { .. } => Ok(()),
        Command::Reconcile { once: _ } => {
            let config = Config::from_env()?;
            let code = run::reconcile_once(&config).await?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
    }
}
