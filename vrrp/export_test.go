package vrrp

// GiveWay is giveWay, for tests outside the package to replace.
var GiveWay = &giveWay
