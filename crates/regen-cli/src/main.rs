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
    // Under mpirun/srun, one of several ranks training one model (kept until the end of
    // main, where MPI is finalised).
    #[cfg(feature = "mpi")]
    let _mpi = regen::dist::mpi::start();
    #[cfg(not(feature = "mpi"))]
    if let Some(n) = regen::dist::launched_ranks().filter(|&n| n > 1) {
        eprintln!(
            "error: started as one of {n} MPI ranks, but this regen was built without MPI: build it with `cargo build --release -p regen-cli --features mpi`"
        );
        return ExitCode::from(2);
    }
    let world = regen::dist::world();
    if world.size() > 1 && !matches!(cli.command, Command::Train(_)) {
        if world.rank() == 0 {
            eprintln!(
                "error: {} ranks: only `regen train` spreads over MPI ranks; run other commands as one process",
                world.size()
            );
        }
        world.abort(2);
    }
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
            // regen's own errors about the user's input exit 2; internal failures 1.
            let user = e
                .downcast_ref::<regen::Error>()
                .is_some_and(regen::Error::is_user_error);
            let code: u8 = if user { 2 } else { 1 };
            if world.size() > 1 {
                // The other ranks wait in a collective: end them all, naming this rank. An
                // error every rank meets (a bad option, a rank count the batch cannot
                // feed) is told once, by rank 0: the others give it a moment to do so.
                if world.rank() != 0 {
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                eprintln!("error: rank {} of {}: {e}", world.rank(), world.size());
                world.abort(i32::from(code));
            }
            eprintln!("error: {e}");
            ExitCode::from(code)
        }
    }
}
