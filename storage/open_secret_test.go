package storage_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
)

// TestOpenNeverEchoesAMalformedDatabaseURL: an API key put in database_url
// by mistake is not printed back, in whole or in part.
func TestOpenNeverEchoesAMalformedDatabaseURL(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"sk-live-0123456789abcdefSECRET", "postgres://u:p@host:notaport/db?sslmode=SECRETxyz", "SECRET with spaces=and=equals"} {
		_, err := storage.Open(context.Background(), bad)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "SECRET", "input %q", bad)
		require.NotContains(t, err.Error(), "0123456789")
	}
}
