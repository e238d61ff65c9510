#!/bin/sh
":" //; case "${NODE_EXTRA_CA_CERTS:+set} ${NODE_OPTIONS-}" in "set "*-ca*|"set "*openssl*|" "*) ;; *) CASA_DEFERRED_CA_CERTS=$NODE_EXTRA_CA_CERTS; export CASA_DEFERRED_CA_CERTS; unset NODE_EXTRA_CA_CERTS ;; esac; exec node "$0" "$@"
// The `casa_distro_admin` command: a thin launcher for the compiled dispatcher, kept as plain
// JavaScript so that start-up costs no TypeScript loader.
//
// The file is read twice, once by sh and once by node: sh runs the line above, where node sees a
// string and a comment. Node reads NODE_EXTRA_CA_CERTS before any JavaScript runs, and it costs
// (OpenSSL set up, every certificate of the file parsed) about 50 ms with a system bundle, a
// third of a no-op create_docker, for a TLS connection most commands never make in this process.
// So sh moves the variable aside and node starts without it; lib/util/deferredCa.ts puts it back
// for the programs we start and adds the certificates to node's trust before this process's
// first TLS connection. NODE_OPTIONS naming a CA store (--use-openssl-ca, ...) leaves it alone.
// `node bin/casa_distro_admin.js` works too, with node reading the variable itself.
import { main } from '../dist/lib/cli/cli.js'

process.exitCode = await main(process.argv.slice(2))
