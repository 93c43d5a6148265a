// Command needsbot is the one binary of needsbot: it runs the bot (run),
// tries it locally without Telegram (try), applies migrations (migrate),
// checks questionnaires and locales (lint), walks a questionnaire in the
// terminal (simulate), exports results (export) and administers staff and
// municipalities (admin) and the service directory (directory). It only wires the packages together.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGHUP too: closing the terminal stops `try` cleanly (its throwaway
	// Postgres stopped and deleted) like Ctrl-C does.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one sub-command.
type command struct {
	name, summary string
	run           func(ctx context.Context, e *cmdEnv, args []string) int
}

// cmdEnv is what every sub-command may use: no globals, so tests call run
// with their own environment and streams.
type cmdEnv struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func commands() []command {
	return []command{
		{"run", "run the bot (webhook or long polling)", runRun},
		{"try", "run everything locally with a web chat, no Telegram token needed", runTry},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"lint", "check questionnaire definitions and locales", runLint},
		{"form", "import an XLSForm workbook as a questionnaire, or export one as XLSForm", runForm},
		{"simulate", "walk a questionnaire in the terminal, or print a script's transcript", runSimulate},
		{"export", "export responses as CSV or XLSX", runExport},
		{"seed", "generate synthetic responses (for benchmarks and demos)", runSeed},
		{"admin", "manage municipalities, services and staff", runAdmin},
		{"directory", "import, export and count the service directory respondents are referred to", runDirectory},
		{"loadtest", "drive simulated respondents through a fake Bot API and measure", runLoadtest},
		{"chaos", "run the fault matrix: replicas, outages, kills, duplicates, Bot API faults; print a table", runChaos},
	}
}

// run is main without the process: the end-to-end tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &cmdEnv{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "needsbot: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: needsbot COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'needsbot COMMAND -h' for a command's flags.")
}
