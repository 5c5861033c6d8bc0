fn main() -> std::process::ExitCode {
    adsctl::cli::main()
}
