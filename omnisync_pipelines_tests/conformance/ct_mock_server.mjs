// Runs @labdigital/commercetools-mock as a standalone HTTP server for the conformance suite.
// Usage: node ct_mock_server.mjs [port]   (0 or absent: any free port)
// Prints one JSON line {"ready": true, "port": N} on stdout once it listens; exits on SIGTERM.
import { CommercetoolsMock } from "@labdigital/commercetools-mock";

const requested = Number.parseInt(process.argv[2] ?? process.env.HTTP_SERVER_PORT ?? "0", 10);
const mock = new CommercetoolsMock({
	enableAuthentication: true,
	validateCredentials: true,
	defaultProjectKey: "omnisync-conformance",
	strict: true,
	silent: true,
});

await mock.runServer(requested);
const { port } = mock.app.server.address();
process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);

for (const signal of ["SIGTERM", "SIGINT"]) {
	process.on(signal, () => mock.app.close().then(() => process.exit(0)));
}
