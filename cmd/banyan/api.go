package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/banyancloud/banyan/node"
)

// apiHandler is the AWS front door on port 8773.
func apiHandler(srv *node.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>The AWS API is not enabled in this build of Banyan.</Message></Error></ErrorResponse>`)
	})
}

func printAPIBanner(w io.Writer, srv *node.Server, dir string) {}
