module github.com/vigil-ha/vigil

go 1.26.0

require (
	github.com/gopacket/gopacket v1.7.7 // indirect
	github.com/miekg/dns v1.1.73 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
