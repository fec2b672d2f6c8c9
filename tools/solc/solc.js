#!/usr/bin/env node
// A `solc`-compatible command line on top of solc-js (the wasm build from npm), so that py-solc-x,
// brownie and crytic-compile can compile offline. It covers what those tools ask of solc:
// --version, --help, --standard-json, --combined-json (source files and/or "-"), --link, and the
// path, optimizer and metadata options py-solc-x turns its keyword arguments into. Exit codes,
// the stdout/stderr split and message texts follow native solc 0.8.x: the callers parse them.
'use strict';

const fs = require('fs');
const path = require('path');

// Installed as `.solcx/solc-v<version> -> tools/solc/solc.js`: node_modules is looked up from the
// script's real location, never from the symlink's directory or the caller's working directory.
const SCRIPT_DIR = path.dirname(fs.realpathSync(__filename));
const requireFromRepo = (name) => require(require.resolve(name, { paths: [SCRIPT_DIR] }));

const FLAG = 'flag';
const VALUE = 'value';
const LIST = 'list'; // may be repeated; every occurrence is kept
const OPTIONS = {
  help: FLAG, version: FLAG, 'standard-json': FLAG, link: FLAG, libraries: LIST,
  'base-path': VALUE, 'include-path': LIST, 'allow-paths': LIST,
  'output-dir': VALUE, overwrite: FLAG, 'combined-json': VALUE, 'evm-version': VALUE,
  'via-ir': FLAG, 'experimental-via-ir': FLAG, 'revert-strings': VALUE,
  'metadata-hash': VALUE, 'metadata-literal': FLAG, 'no-cbor-metadata': FLAG,
  optimize: FLAG, 'optimize-runs': VALUE, 'optimize-yul': FLAG, 'no-optimize-yul': FLAG,
  'yul-optimizations': VALUE,
};
const COMPILER_MODE_ONLY = ['optimize', 'optimize-runs', 'optimize-yul', 'no-optimize-yul',
  'yul-optimizations', 'via-ir', 'experimental-via-ir', 'metadata-hash', 'metadata-literal',
  'no-cbor-metadata'];

// --combined-json item -> where Standard JSON output keeps it ('' marks the per-source AST).
const COMBINED_JSON = {
  abi: 'abi', asm: 'evm.legacyAssembly', ast: '', bin: 'evm.bytecode.object',
  'bin-runtime': 'evm.deployedBytecode.object', devdoc: 'devdoc',
  'function-debug': 'evm.bytecode.functionDebugData',
  'function-debug-runtime': 'evm.deployedBytecode.functionDebugData',
  'generated-sources': 'evm.bytecode.generatedSources',
  'generated-sources-runtime': 'evm.deployedBytecode.generatedSources',
  hashes: 'evm.methodIdentifiers', metadata: 'metadata', opcodes: 'evm.bytecode.opcodes',
  srcmap: 'evm.bytecode.sourceMap', 'srcmap-runtime': 'evm.deployedBytecode.sourceMap',
  'storage-layout': 'storageLayout', 'transient-storage-layout': 'transientStorageLayout',
  userdoc: 'userdoc',
};
const REVERT_STRINGS = ['default', 'strip', 'debug'];
const METADATA_HASH = { ipfs: 'ipfs', swarm: 'bzzr1', none: 'none' };

// py-solc-x takes the --combined-json choices from the last word of the line that starts with
// "  --combined-json", so that line keeps native solc's layout.
const HELP = `solc, the Solidity commandline compiler (solc-js shim).

Usage: solc [options] [input_file...]
Compiles the given Solidity input files (or the standard input if "-" is used as a file
name). Imports are read from the filesystem; remap them with prefix=path arguments.

Options:
  --help                Show help message and exit.
  --version             Show version and exit.
  --standard-json       Switch to Standard JSON input / output mode.
  --link                Switch to linker mode; --libraries gives the addresses.
  --libraries libs      Library addresses: <name>=<address> [, or whitespace] ...
  --base-path path      Use the given path as the root of the source tree.
  --include-path path   Make an additional source directory available to imports.
  --allow-paths path(s) Allow the given (comma-separated) paths for imports.
  -o [ --output-dir ] path
                        Write combined.json into this directory.
  --overwrite           Overwrite existing files (used together with -o).
  --evm-version version Select desired EVM version.
  --via-ir              Turn on compilation mode via the IR.
  --revert-strings ${REVERT_STRINGS.join(',')}
                        Strip revert reason strings or add debugging information.
  --combined-json ${Object.keys(COMBINED_JSON).sort().join(',')}
                        Output a single json document containing the specified
                        information.
  --no-cbor-metadata    Do not append CBOR metadata to the end of the bytecode.
  --metadata-hash ${Object.keys(METADATA_HASH).join(',')}
                        Choose hash method for the bytecode metadata or disable it.
  --metadata-literal    Store referenced sources as literal data in the metadata.
  --optimize            Enable optimizer.
  --optimize-runs n (=200)
                        Expected number of executions of each opcode.
  --optimize-yul        Enable Yul optimizer.
  --no-optimize-yul     Disable Yul optimizer.
  --yul-optimizations steps
                        Use this sequence of Yul optimization steps.
`;

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = {};
  const positionals = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg === '-o' ? 'output-dir' : arg.slice(2, eq < 0 ? undefined : eq);
    const known = (arg.startsWith('--') || arg === '-o') && Object.hasOwn(OPTIONS, name);
    const kind = known ? OPTIONS[name] : undefined;
    if (!kind) throw new UsageError(`unrecognised option '${arg}'`);
    if (kind === FLAG) {
      if (eq >= 0) throw new UsageError(`option '--${name}' does not take any arguments`);
      opts[name] = true;
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) {
      throw new UsageError(`the required argument for option '--${name}' is missing`);
    }
    opts[name] = kind === LIST ? [...(opts[name] || []), value] : value;
  }
  return { opts, positionals };
}

// Streams may deliver stdin in many chunks; compile only once all of it is in.
function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

// Compare real paths, so that a symlink cannot lead a read out of an allowed directory.
function realPath(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

const isInside = (dir, file) =>
  file === dir || file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);

function pathOptions(opts) {
  const includePaths = opts['include-path'] || [];
  if (includePaths.length > 0 && !opts['base-path']) {
    throw new UsageError('--include-path option requires a non-empty base path.');
  }
  return {
    basePath: opts['base-path'] || process.cwd(),
    includePaths,
    allowPaths: (opts['allow-paths'] || []).flatMap((list) => list.split(',')).filter(Boolean),
  };
}

// Native solc's file reader: a relative source unit name is looked up under the base path and
// each include path, an absolute one as it is; the file is read only if it lies inside the
// base path, an include path or one of the other allowed directories.
function makeImportCallback({ basePath, includePaths }, allowedDirs) {
  const roots = [...new Set([basePath, ...includePaths].map((p) => path.resolve(p)))];
  const allowed = [basePath, ...includePaths, ...allowedDirs].map(realPath);
  return (sourceUnitName) => {
    const name = sourceUnitName.replace(/^file:\/\//, '');
    const locations = path.isAbsolute(name) ? [name] : roots.map((root) => path.join(root, name));
    const found = [...new Set(locations.filter((p) => fs.existsSync(p)).map(realPath))];
    const quoted = (paths) => paths.map((p) => `"${p}"`).join(', ');
    if (found.length === 0) {
      return { error: `File not found. Searched the following locations: ${quoted(locations)}.` };
    }
    if (found.length > 1) {
      return { error: `Ambiguous import. Multiple matching files found: ${quoted(found)}.` };
    }
    if (!allowed.some((dir) => isInside(dir, found[0]))) {
      return { error: 'File outside of allowed directories.' };
    }
    if (!fs.statSync(found[0]).isFile()) return { error: 'Not a valid file.' };
    return { contents: fs.readFileSync(found[0], 'utf8') };
  };
}

const formatDiagnostics = (errors) =>
  (errors || [])
    .map((e) => (e.formattedMessage || `${e.type}: ${e.message}`).replace(/\n?$/, '\n'))
    .join('');

async function runStandardJson(opts, positionals) {
  if (positionals.some((arg) => arg.includes('='))) {
    throw new UsageError(
      'Import remappings are not accepted on the command line in Standard JSON mode.\n' +
        "Please put them under 'settings.remappings' in the JSON input.",
    );
  }
  // The compiler settings come from the JSON; native solc refuses these rather than ignore them.
  const misplaced = COMPILER_MODE_ONLY.find((option) => opts[option]);
  if (misplaced) {
    throw new UsageError(`Option --${misplaced} is only valid in compiler and assembler modes.`);
  }
  if (positionals.length > 1) {
    throw new UsageError(
      'Too many input files for --standard-json.\n' +
        'Please either specify a single file name or provide its content on standard input.',
    );
  }
  const fromFile = positionals.length === 1 && positionals[0] !== '-';
  const input = fromFile ? fs.readFileSync(positionals[0], 'utf8') : await readStdin();
  const paths = pathOptions(opts);
  const output = requireFromRepo('solc').compile(input, {
    import: makeImportCallback(paths, paths.allowPaths),
  });
  // Compiler errors are reported inside the JSON; as with native solc the exit code stays 0.
  process.stdout.write(`${output}\n`);
}

function compilerSettings(opts, remappings, requested) {
  const choices = { 'revert-strings': REVERT_STRINGS, 'metadata-hash': Object.keys(METADATA_HASH) };
  for (const [option, allowed] of Object.entries(choices)) {
    if (opts[option] !== undefined && !allowed.includes(opts[option])) {
      throw new UsageError(`Invalid option for --${option}: ${opts[option]}`);
    }
  }
  if (opts['optimize-yul'] && opts['no-optimize-yul']) {
    throw new UsageError('Options --optimize-yul and --no-optimize-yul cannot be used together.');
  }
  const runs = opts['optimize-runs'] ?? '200';
  if (!/^\d+$/.test(runs) || Number(runs) > 0xffffffff) {
    throw new UsageError(`the argument ('${runs}') for option '--optimize-runs' is invalid`);
  }
  const optimizer = { enabled: Boolean(opts.optimize), runs: Number(runs) };
  const yul = Boolean((opts.optimize && !opts['no-optimize-yul']) || opts['optimize-yul']);
  if (opts['yul-optimizations'] && !yul) {
    throw new UsageError('--yul-optimizations is invalid if Yul optimizer is disabled');
  }
  if (opts['optimize-yul'] || opts['no-optimize-yul'] || opts['yul-optimizations']) {
    optimizer.details = { yul };
    if (opts['yul-optimizations']) {
      optimizer.details.yulDetails = { optimizerSteps: opts['yul-optimizations'] };
    }
  }
  const contractOutputs = requested.filter((item) => item !== 'ast').map((i) => COMBINED_JSON[i]);
  return {
    remappings,
    optimizer,
    viaIR: Boolean(opts['via-ir'] || opts['experimental-via-ir']),
    ...(opts['evm-version'] && { evmVersion: opts['evm-version'] }),
    ...(opts['revert-strings'] && { debug: { revertStrings: opts['revert-strings'] } }),
    metadata: {
      useLiteralContent: Boolean(opts['metadata-literal']),
      appendCBOR: !opts['no-cbor-metadata'],
      ...(opts['metadata-hash'] && { bytecodeHash: METADATA_HASH[opts['metadata-hash']] }),
    },
    // Native solc always generates bytecode, whatever it prints, so codegen errors surface too.
    outputSelection: {
      '*': {
        '*': ['evm.bytecode.object', ...contractOutputs],
        '': requested.includes('ast') ? ['ast'] : [],
      },
    },
  };
}

// Files named on the command line become source units relative to the base path or an include
// path when inside one, absolute otherwise; their directories become readable for imports.
function readCliSources(files, { basePath, includePaths }) {
  const roots = [basePath, ...includePaths].map((p) => path.resolve(p));
  const sources = {};
  const dirs = [];
  for (const file of files) {
    if (!fs.existsSync(file)) throw new UsageError(`"${file}" is not found.`);
    if (!fs.statSync(file).isFile()) throw new UsageError(`"${file}" is not a valid file.`);
    const absolute = path.resolve(file);
    const root = roots.find((r) => absolute !== r && isInside(r, absolute));
    const name = root ? path.relative(root, absolute).split(path.sep).join('/') : absolute;
    sources[name] = { content: fs.readFileSync(file, 'utf8') };
    dirs.push(path.dirname(realPath(file)));
  }
  return { sources, dirs };
}

// As in native solc, a remapping makes its target directory (or the target file's directory)
// readable, so `prefix=/some/lib/` needs no --allow-paths.
function remappingDir(remapping) {
  const target = remapping.slice(remapping.indexOf('=') + 1);
  if (!target) return null;
  return target.endsWith('/') || path.basename(target) === '..' ? target : path.dirname(target);
}

// Native solc prints JSON objects with sorted keys.
const sortedObject = (entries) =>
  Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

function toCombinedJson(output, requested, version) {
  const pick = (obj, dotted) => dotted.split('.').reduce((value, key) => value?.[key], obj);
  const contracts = [];
  for (const [source, byName] of Object.entries(output.contracts || {})) {
    for (const [name, data] of Object.entries(byName)) {
      const fields = requested
        .filter((item) => item !== 'ast')
        .map((item) => [item, pick(data, COMBINED_JSON[item])])
        .filter(([, value]) => value !== undefined);
      contracts.push([`${source}:${name}`, sortedObject(fields)]);
    }
  }
  const sourcesById = Object.entries(output.sources || {}).sort(([, a], [, b]) => a.id - b.id);
  const result = [['contracts', sortedObject(contracts)], ['version', version]];
  if (requested.some((item) => ['ast', 'srcmap', 'srcmap-runtime'].includes(item))) {
    result.push(['sourceList', sourcesById.map(([name]) => name)]);
  }
  if (requested.includes('ast')) {
    const sources = sourcesById.map(([name, { id, ast }]) => [name, { AST: ast, id }]);
    result.push(['sources', sortedObject(sources)]);
  }
  return sortedObject(result);
}

async function runCompiler(opts, positionals) {
  const requested = opts['combined-json'] === undefined ? [] : opts['combined-json'].split(',');
  const unknown = requested.find((item) => !Object.hasOwn(COMBINED_JSON, item));
  if (unknown !== undefined) throw new UsageError(`Invalid option to --combined-json: ${unknown}`);
  const remappings = positionals.filter((arg) => arg.includes('='));
  const files = positionals.filter((arg) => !arg.includes('=') && arg !== '-');
  const useStdin = positionals.includes('-');
  if (files.length === 0 && !useStdin) {
    throw new UsageError(
      'No input files given. If you wish to use the standard input please specify "-" explicitly.',
    );
  }
  const paths = pathOptions(opts);
  const settings = compilerSettings(opts, remappings, requested);
  const { sources, dirs } = readCliSources(files, paths);
  if (useStdin) sources['<stdin>'] = { content: await readStdin() };

  const allowedDirs = [...paths.allowPaths, ...dirs, ...remappings.map(remappingDir)];
  const solc = requireFromRepo('solc');
  const input = JSON.stringify({ language: 'Solidity', sources, settings });
  const importCallback = makeImportCallback(paths, allowedDirs.filter(Boolean));
  const output = JSON.parse(solc.compile(input, { import: importCallback }));

  process.stderr.write(formatDiagnostics(output.errors));
  if ((output.errors || []).some((e) => e.severity === 'error')) {
    process.exitCode = 1;
    return;
  }
  if (requested.length === 0) {
    process.stderr.write('Compiler run successful, no output requested.\n');
    return;
  }
  const text = `${JSON.stringify(toCombinedJson(output, requested, solc.version()))}\n`;
  const outputDir = opts['output-dir'];
  if (!outputDir) {
    process.stdout.write(text);
    return;
  }
  const target = path.join(outputDir, 'combined.json');
  if (fs.existsSync(target) && !opts.overwrite) {
    throw new UsageError(
      `Refusing to overwrite existing file "${target}" (use --overwrite to force).`,
    );
  }
  fs.mkdirSync(outputDir, { recursive: true });
  fs.writeFileSync(target, text);
  // Native solc prints this on stdout, but py-solc-x would then save the sentence as combined.json.
  process.stderr.write(
    `Compiler run successful. Artifact(s) can be found in directory "${outputDir}".\n`,
  );
}

// --libraries values are either files or lists of `name=address` / `name:address` entries.
function parseLibraries(values) {
  const libraries = {};
  for (const value of values) {
    const isFile = fs.existsSync(value) && fs.statSync(value).isFile();
    for (const entry of (isFile ? fs.readFileSync(value, 'utf8') : value).split(/[\s,]+/)) {
      if (!entry) continue;
      const at = entry.includes('=') ? entry.lastIndexOf('=') : entry.lastIndexOf(':');
      if (at < 0) {
        throw new UsageError(`Equal sign separator missing in library address "${entry}"`);
      }
      const [name, address] = [entry.slice(0, at).trim(), entry.slice(at + 1).trim()];
      if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
        throw new UsageError(`Invalid address for library "${name}": ${address}`);
      }
      libraries[name] = address;
    }
  }
  return libraries;
}

// Files are linked in place; stdin is linked to stdout, followed by native solc's closing line.
async function runLinker(opts, positionals) {
  const libraries = parseLibraries(opts.libraries || []);
  const { linkBytecode } = requireFromRepo('solc/linker');
  const link = (code) => linkBytecode(code, libraries).replace(/\n+$/, '');
  for (const file of positionals.filter((arg) => arg !== '-')) {
    fs.writeFileSync(file, link(fs.readFileSync(file, 'utf8')));
  }
  const linkedStdin = positionals.includes('-') ? `${link(await readStdin())}\n` : '';
  process.stdout.write(`${linkedStdin}Linking completed.\n`);
}

async function main(argv) {
  const { opts, positionals } = parseArgs(argv);
  const modes = ['help', 'version', 'standard-json', 'link'].filter((mode) => opts[mode]);
  if (modes.length > 1) {
    const names = modes.map((mode) => `--${mode}`).join(', ');
    throw new UsageError(`The following options are mutually exclusive: ${names}.`);
  }
  if (opts.help) {
    process.stdout.write(HELP);
  } else if (opts.version) {
    const banner = 'solc, the solidity compiler commandline interface';
    process.stdout.write(`${banner}\nVersion: ${requireFromRepo('solc').version()}\n`);
  } else if (opts['standard-json']) {
    await runStandardJson(opts, positionals);
  } else if (opts.link) {
    await runLinker(opts, positionals);
  } else {
    await runCompiler(opts, positionals);
  }
}

// A reader that stops early (`| head`) is not an error worth a stack trace.
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
});

// Never process.exit(): it would cut off megabytes of JSON still queued for a stdout pipe.
main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`${err instanceof UsageError ? err.message : err.stack}\n`);
  process.exitCode = 1;
});
