// Package api is the AWS front door every node serves on port 8773: one listener for
// every service, routed by the SigV4 credential scope's service name, authenticated with
// api/sigv4 and authorized per call with api/identity, answering in each service's own
// wire protocol with request IDs on every response.
package api
