package app

// Test hooks for the external app_test package: the demo's local stand-in
// for a Slack incoming webhook and its rendering of a Block Kit message.
var (
	StartSlackReceiver = startSlackReceiver
	SlackText          = slackText
)
