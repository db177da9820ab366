package cli

import (
	"fmt"

	"github.com/driftwatch/driftwatch/app"
	"github.com/spf13/cobra"
)

func (c *cli) serveCmd() *cobra.Command {
	var o app.ServeOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the scheduler, workers, alerting and the dashboard",
		Long: `Fire the config's schedules as durable jobs (River, on the same PostgreSQL), work them,
alert, and serve the dashboard, /healthz and /metrics. Several replicas may run against one
database: each schedule firing runs once. SIGINT/SIGTERM stop fetching jobs, let in-flight
samples finish (up to --soft-stop-timeout), then cancel; unfinished work is retried.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if handled, err := c.execGoSuites(cmd, nil); handled || err != nil {
				return err
			}
			// The config file is required: without it this process would
			// take the cluster's jobs with no suites, targets or schedules.
			a, err := c.openConfig(true)
			if err != nil {
				return err
			}
			defer a.Close()
			if !cmd.Flags().Changed("addr") && a.Config().Web.Addr != "" {
				o.Addr = a.Config().Web.Addr // the config's web.addr unless --addr is given
			}
			o.Scheduler = true
			o.OnListen = func(addr string) { fmt.Fprintf(c.stdout, "driftwatch serving on http://%s\n", addr) }
			return a.Serve(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Addr, "addr", "127.0.0.1:8080", "HTTP listen address (the config's web.addr when set and this flag is not)")
	serveFlags(cmd, &o)
	return cmd
}

func (c *cli) workerCmd() *cobra.Command {
	var o app.ServeOptions
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Work scheduled runs (no scheduler, no HTTP), to add machines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if handled, err := c.execGoSuites(cmd, nil); handled || err != nil {
				return err
			}
			a, err := c.openConfig(true) // see serve
			if err != nil {
				return err
			}
			defer a.Close()
			return a.Serve(cmd.Context(), o)
		},
	}
	serveFlags(cmd, &o)
	return cmd
}

func serveFlags(cmd *cobra.Command, o *app.ServeOptions) {
	f := cmd.Flags()
	f.IntVar(&o.BatchSize, "batch-size", app.BatchSizeDefault, "cases per batch job")
	f.IntVar(&o.BatchWorkers, "batch-workers", app.BatchWorkersDefault, "batch jobs worked at once by this process")
	f.DurationVar(&o.BatchTimeout, "batch-timeout", app.BatchTimeoutDefault, "time limit of one batch attempt")
	f.DurationVar(&o.RescueAfter, "rescue-after", 0, "retry jobs left running by a dead process after this long (default max(1h, batch-timeout+1m))")
	f.DurationVar(&o.SoftStopTimeout, "soft-stop-timeout", app.ServeSoftStopDefault, "on shutdown, how long in-flight samples may finish")
}
