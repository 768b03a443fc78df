/**
 * The streaming baseline: a bare node:http server answering single byte ranges of one file
 * with fs.createReadStream, what this machine can stream at all. `/health` answers 200.
 *   node --import tsx bench/media-baseline.ts <file> <port>
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';

const [file, port] = process.argv.slice(2);
if (!file || !port) {
  process.stderr.write('usage: media-baseline.ts <file> <port>\n');
  process.exit(1);
}
const size = statSync(file).size;

const server = createServer((request, response) => {
  if (request.url === '/health') return response.end('ok');
  const match = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
  if (!match) {
    response.writeHead(200, {
      'content-type': 'audio/mpeg',
      'content-length': size,
      'accept-ranges': 'bytes',
    });
    return createReadStream(file).pipe(response);
  }
  const start = Number(match[1]);
  const end = Math.min(match[2] ? Number(match[2]) : size - 1, size - 1);
  response.writeHead(206, {
    'content-type': 'audio/mpeg',
    'content-length': end - start + 1,
    'content-range': `bytes ${start}-${end}/${size}`,
    'accept-ranges': 'bytes',
  });
  createReadStream(file, { start, end }).pipe(response);
});
server.keepAliveTimeout = 72_000;
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
