// Run icpurse's core test modules on the 32-bit WebAssembly MicroPython under Node.js.
//
//   node tools/wasm/run_core.mjs [--src DIR] [--mpy DIR] [--tests DIR] [--runner FILE]
//                                [MODULE[=mpy] ...]
//
// The WebAssembly port is the npm package @micropython/micropython-webassembly-pyscript,
// installed beside this file by `npm ci` (package-lock.json pins it). Its small ints are 31
// bits and its bigint digits 16 bits, as on the ESP32 and RP2 boards, where the Unix port that
// tests/core/conftest.py runs has 63-bit small ints: arithmetic that only fits a 64-bit word
// shows up here. Each module runs in an interpreter of its own, loaded afresh, as the Unix port
// runs each module in a process of its own, so that no module sees another's imports.
//
// The interpreter has no access to the host's files, so the firmware (--src, default
// firmware/), the core tests (--tests, default tests/core) and tests/mp_runner.py (--runner)
// are copied into its in-memory filesystem under /icpurse. A module named MODULE=mpy imports
// the core from --mpy instead (a directory of .mpy files from mpy-cross), as the Unix port
// does for modules that set MP_MPY = True. With no MODULE, every tests/core/test_*.py runs from
// source. Output: a first line naming the package, its version and Node.js's; then
// mp_runner.py's own lines (PASS, FAIL, ERROR, "| " traceback lines, its count per module); a
// "MODULE name seconds" line after each module; and a closing line with the totals. The exit
// status is 1 when a test failed or a module could not run.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const PACKAGE = "@micropython/micropython-webassembly-pyscript";

function parseArgs(argv) {
  const opts = {
    src: path.join(ROOT, "firmware"),
    mpy: null,
    tests: path.join(ROOT, "tests", "core"),
    runner: path.join(ROOT, "tests", "mp_runner.py"),
    modules: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--src" || arg === "--mpy" || arg === "--tests" || arg === "--runner") {
      if (i + 1 >= argv.length) {
        throw new Error(`${arg} needs a value`);
      }
      opts[arg.slice(2)] = path.resolve(argv[++i]);
    } else if (arg.startsWith("--")) {
      throw new Error(`unknown option ${arg}`);
    } else {
      opts.modules.push(arg);
    }
  }
  if (opts.modules.length === 0) {
    opts.modules = fs
      .readdirSync(opts.tests)
      .filter((name) => /^test_.*\.py$/.test(name))
      .sort()
      .map((name) => name.slice(0, -3));
  }
  return opts;
}

// Copy a host directory tree into the interpreter's filesystem. Only the files Python can
// import are copied: the firmware directory also holds board descriptions the tests never read.
function copyTree(FS, from, to) {
  FS.mkdirTree(to);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = `${to}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") {
        copyTree(FS, source, target);
      }
    } else if (entry.name.endsWith(".py") || entry.name.endsWith(".mpy")) {
      FS.writeFile(target, fs.readFileSync(source));
    }
  }
}

// JSON's strings and arrays of strings are also Python literals.
function pyString(value) {
  return JSON.stringify(value);
}

// Counts of the whole run, from mp_runner.py's lines as they are printed.
const totals = { passed: 0, failed: 0 };

// Print a line of the run at once (a module that hangs then shows how far it got) and count it.
function report(line) {
  console.log(line);
  if (line.startsWith("PASS ")) {
    totals.passed++;
  } else if (line.startsWith("FAIL ") || line.startsWith("ERROR ")) {
    totals.failed++;
  }
}

async function runModule(opts, spec) {
  const [name, how] = spec.split("=");
  if (how !== undefined && how !== "mpy") {
    throw new Error(`unknown module variant in ${spec} (only =mpy is known)`);
  }
  if (how === "mpy" && opts.mpy === null) {
    throw new Error(`${spec} needs --mpy DIR`);
  }
  const mp = await loadMicroPython({ stdout: report, stderr: report });
  const src = how === "mpy" ? "/icpurse/mpy" : "/icpurse/firmware";
  copyTree(mp.FS, how === "mpy" ? opts.mpy : opts.src, src);
  copyTree(mp.FS, opts.tests, "/icpurse/tests/core");
  mp.FS.writeFile("/icpurse/tests/mp_runner.py", fs.readFileSync(opts.runner));
  const argv = ["/icpurse/tests/mp_runner.py", src, "/icpurse/tests/core", name];
  const started = process.hrtime.bigint();
  try {
    // mp_runner.py reads its arguments from sys.argv, as under the Unix port's command line.
    mp.runPython(
      `import sys\nsys.argv[:] = ${pyString(argv)}\n` +
        `exec(open(${pyString(argv[0])}).read(), {"__name__": "__main__"})\n`,
    );
  } catch (error) {
    // A Python exception that escapes mp_runner.py (it catches every test's own) or a crash
    // of the interpreter fails the whole module, as a non-zero exit does on the Unix port.
    report(`ERROR ${name} the interpreter stopped: ${String(error.message).split("\n")[0]}`);
    for (const line of String(error.stack || error.message).split("\n")) {
      report(`| ${line}`);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report(`MODULE ${name} ${seconds.toFixed(3)}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const pkg = JSON.parse(
    fs.readFileSync(path.join(HERE, "node_modules", PACKAGE, "package.json"), "utf8"),
  );
  console.log(`WASM ${PACKAGE} ${pkg.version} node ${process.version}`);
  const started = process.hrtime.bigint();
  for (const spec of opts.modules) {
    await runModule(opts, spec);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`wasm: ${totals.passed} passed, ${totals.failed} failed in ${seconds.toFixed(1)} s`);
  process.exitCode = totals.failed === 0 ? 0 : 1;
}

await main();
