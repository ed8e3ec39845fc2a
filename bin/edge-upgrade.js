#!/usr/bin/env node
// The package's bin: runs the compiled CLI (npm run build). Kept in JS so it needs no build itself.
import '../dist/client.js';
