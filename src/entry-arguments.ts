/**
 * The command line of an entry point that takes its settings from the environment (the model server, the workers, the
 * dev and codec servers, the docs generator): `--help` or `-h` prints what it does and the settings that matter, and
 * exits 0, before anything starts or is written; any other argument is refused (exit 2), since it would be ignored.
 */
export function takeNoArguments(command: string, usage: string, argv = process.argv.slice(2)): void {
  if (argv.some((arg) => arg === '--help' || arg === '-h')) {
    console.log(usage);
    process.exit(0);
  }
  if (argv.length > 0) {
    console.error(
      `${command} takes no arguments (it was given ${JSON.stringify(argv[0])}): its settings are environment ` +
        `variables (docs/configuration.md).\n\n${usage}`,
    );
    process.exit(2);
  }
}
