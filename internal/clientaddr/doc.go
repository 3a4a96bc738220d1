// Package clientaddr finds a connection's real client behind proxies: the
// PROXY protocol header (v1 and v2) that a trusted load balancer sends
// first, and the X-Forwarded-For / Forwarded request headers, read from the
// right so that only trusted proxies' entries are skipped.
package clientaddr
