package main

import (
	"fmt"
	"os"
)

func runBench(args []string) int {
	_ = args
	fmt.Fprintln(os.Stderr, "parley bench: the load harness is not built yet (issue 7)")
	return 2
}
