//! `regen`: the command-line program. It parses arguments ([`args`]), calls the library
//! ([`commands`]) and prints; all the work lives in the `regen` crate.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod commands;

use args::{Cli, Command, EvalCommand, ModelsCommand, TrainCommand};

fn main() -> ExitCode {
    // A usage error exits 2, --help and --version 0.
    let cli = Cli::parse();
    regen::data::set_max_pixels(cli.max_pixels);
    if let Some(n) = cli.threads {
        regen::device::set_threads(n);
    }
    let device = regen::device::resolve(cli.device).map_err(anyhow::Error::from);
    let result = device.and_then(|()| match cli.command {
        // The server's own threads wait on the network; its worker runs the models in the pool.
        Command::Serve(a) => commands::serve::serve(a),
        command => regen::device::in_pool(|| match command {
            Command::Restore(a) => commands::restore::restore(a),
            Command::Corrupt(a) => commands::corrupt::corrupt(a),
            Command::Generate(a) => commands::generate::generate(a),
            Command::Reconstruct(a) => commands::generate::reconstruct(a),
            Command::Interpolate(a) => commands::generate::interpolate(a),
            Command::Encode(a) => commands::generate::encode(a),
            Command::Train(t) => match *t {
                TrainCommand::Restore(a) => commands::train::restore(a),
                TrainCommand::Vae(a) => commands::train::vae(a),
                TrainCommand::Gan(a) => commands::train::gan(a),
            },
            Command::Eval(EvalCommand::Restore(a)) => commands::eval::restore(a),
            Command::Eval(EvalCommand::Vae(a)) => commands::eval::vae(a),
            Command::Eval(EvalCommand::Generate(a)) => commands::eval::generate(a),
            Command::Eval(EvalCommand::Augment(a)) => commands::eval::augment(a),
            Command::Eval(EvalCommand::Noise(a)) => commands::eval::noise(a),
            Command::Models(ModelsCommand::Inspect(a)) => commands::models::inspect(a),
            Command::Export(a) => commands::models::export(a),
            Command::Serve(_) => unreachable!("served outside the pool"),
        }),
    });
    if let Some(report) = regen::engine::backend::profile_report() {
        eprint!("{report}");
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (e.g. `| head`) is not an error worth a message.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e}");
            // regen's own errors about the user's input exit 2; internal failures 1.
            let user = e
                .downcast_ref::<regen::Error>()
                .is_some_and(regen::Error::is_user_error);
            ExitCode::from(if user { 2 } else { 1 })
        }
    }
}
