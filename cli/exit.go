package cli

// Exit codes (a contract: README "Exit codes"). A run's verdicts give 0,
// 1 or 2 (report.ExitCode); every error, whatever its kind, gives
// ExitConfig.
const (
	ExitOK           = 0
	ExitDrift        = 1
	ExitInconclusive = 2
	ExitConfig       = 3
)
