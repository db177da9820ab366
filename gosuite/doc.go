// Package gosuite finds Go suites in a user's own module and builds the
// driftwatch binary that runs them, the way go test finds TestXxx functions
// and builds a test binary: no registration, no hand-written main.
//
// # Writing suites
//
// In any package of your module, exported functions with these signatures
// are found by reading the source:
//
//	func EvalXxx(t *eval.T)     // one case, Xxx, of the package's suite
//	func SuiteXxx() eval.Suite  // a whole suite, under the name it returns
//	func EvalOpts() eval.SuiteOpts // optional: options of the package's suite
//
// As with TestXxx, Xxx must not start with a lower-case letter (Evaluate is
// not a case). The EvalXxx functions of one package form one suite named
// after the package (package refusals: suite "refusals"), with case IDs
// Xxx (EvalPoliteDecline: case "PoliteDecline"), selected by --case as
// -run selects tests. A function named like one of these with another
// signature is an error at file:line, as go test reports a TestXxx with the
// wrong signature. _test.go files are not read: suites are code the binary
// links.
//
// # Building and running
//
// Build lists the packages with the user's go command (go list), parses
// them (go/parser), generates a main package that registers what it found
// (Register) and calls cli.Main, and builds it with go build in the user's
// module: the generated main lives only in a build overlay inside the
// module, so go.mod, go.sum, replace directives and internal packages apply
// as they do to the user's own code. The binary is cached under a content
// hash of its inputs and reused while nothing changed. Exec runs it with
// the caller's arguments, passing stdio and the exit code through.
//
// driftwatch run ./evals/... builds and then execs; driftwatch build
// ./evals/... -o bin/driftwatch writes the binary for a server or an image,
// where serve and worker run it as they run the stock driftwatch. Args lets
// the built binary accept the same command line, patterns included: run
// then runs exactly the suites those patterns built.
//
// # Patterns and names
//
// IsPattern holds the rule that tells a Go package pattern from a YAML path
// or a registered suite name: a trailing "/..." always means Go packages; a
// local path ("./x", "../x", ".", absolute) means the Go package in that
// folder when it holds .go files and no YAML suite files; a bare name
// ("shout") is never a pattern.
//
// # Change detection
//
// Every case of a discovered suite gets a content hash (eval.Case.Hash), so
// that history is only compared while a case is unchanged and an edited
// case is reported as changed, not as drift. A case of the Eval suite
// hashes its own function plus the rest of its package (helpers, data,
// EvalOpts, embedded files); editing one EvalXxx changes that case only.
// A case of a SuiteXxx suite that sets no Hash hashes SuiteXxx plus the
// rest of its package, so an edit there changes every case of that suite.
// Comments do not count. SuiteOpts.Version is mixed in when set, and is
// needed only when the behaviour changes through code in another package.
package gosuite
