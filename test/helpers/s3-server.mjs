// A loopback S3-compatible server (s3rver) in its own process, so a test can kill it like a target
// that goes down. Usage: node s3-server.mjs DIR BUCKET [PORT]; prints {"port": N} once listening.
// @ts-expect-error -- s3rver ships no type declarations
import S3rver from 's3rver';

const [directory, bucket, port = '0'] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: Number(port), directory, silent: true, configureBuckets: [{ name: bucket }] });
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.on('SIGTERM', () => {
  server.close().then(() => process.exit(0), () => process.exit(1));
});
