// healthcheck: the Docker healthcheck of the local images whose program has none of its own
// (the collector's health_check extension answers HTTP, but the collector binary cannot probe
// it, and a FROM scratch image has no shell, curl or wget). Exits 0 when every URL answers a
// 2xx within the timeout, 1 otherwise, printing why in one line.
// Built static (CGO_ENABLED=0) by plano_obs/runtime/localimages.py; standard library only.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: healthcheck URL...")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for _, url := range os.Args[1:] {
		resp, err := client.Get(url)
		if err != nil {
			fmt.Fprintf(os.Stderr, "unhealthy: %v\n", err)
			os.Exit(1)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			fmt.Fprintf(os.Stderr, "unhealthy: %s answered %d\n", url, resp.StatusCode)
			os.Exit(1)
		}
	}
}
