// Command hello exits 0; nstest's tests build it with GoBuild.
package main

func main() {}
