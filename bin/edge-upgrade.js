#!/usr/bin/env node
// The package's bin: runs the compiled CLI (npm run build). Kept in JS so it needs no build itself.
import { main } from '../dist/client.js';

process.exit(await main(process.argv));
