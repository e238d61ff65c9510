// The builtin configuration of casa-distro-admin, and the example to copy.
//
// Put your own casa.config.ts in your workflow repository (or in
// ~/.config/casa-distro/, or name it with --config / $CASA_CONFIG). Only write
// what differs from here: your file is deep-merged over this one (objects merge
// key by key, lists replace). `casa_distro_admin show_config` prints the result.
import { defineConfig } from 'casa-distro-admin'

export default defineConfig({
  // The workflow repository; --repository and $CASA_DEFAULT_REPOSITORY take precedence.
  repository: '~/casa_distro',

  // Image definitions (<image_type>/<system>/casa_distro_docker.yaml), first found wins.
  imageSearchPath: [
    '{repository}/share/docker',
    '~/.config/casa-distro/docker',
    '~/.casa-distro/docker',
    '{builtin}/share/docker',
  ],

  // Task files (*.ts defining a task with defineTask), first found by name wins: a site's
  // edited copy of create_docker.ts replaces the builtin one. The builtin tasks come last
  // even when {builtin}/tasks is not listed.
  taskSearchPath: ['{repository}/tasks', '~/.config/casa-distro/tasks', '{builtin}/tasks'],

  namespace: 'cati',
  // Template parameters of image definitions, over the definitions' own (casa_version,
  // namespace, image_type and system are builtin). docker_mirror is put before the builtin
  // definitions' base images (e.g. 'mirror.example.org/library/'); base_image replaces them.
  templateParameters: { docker_mirror: '' },
  // Builds, conversions and uploads running at once; 1 suits a small build machine.
  jobs: 1,

  // The docker CLI as you set it up applies (DOCKER_HOST, DOCKER_CONTEXT, credential helpers).
  // host: 'ssh://builder@build.example.org' sends every docker command to another engine;
  // builder: 'casa' builds with that buildx (BuildKit) builder and loads the result.
  docker: {},

  hubs: {
    docker: {
      public: { registry: 'docker.io', namespace: 'cati' },
    },
    singularity: {
      upload: 'sftp://brainvisa@brainvisa.info/~/prod/www/casa-distro',
      download: 'http://brainvisa.info/casa-distro',
    },
    casaDistro: { upload: 'sftp://brainvisa@brainvisa.info/~/prod/www/casa-distro' },
    buildWorkflows: { upload: 'sftp://brainvisa@brainvisa.info/~/prod/www/casa-distro' },
    releasePlan: { upload: 'sftp://brainvisa@brainvisa.info/~/prod/www/casa-distro' },
  },

  // sftp:// hubs use ssh-agent ($SSH_AUTH_SOCK), else identityFile; host keys must be in
  // knownHosts (default ~/.ssh/known_hosts), e.g.
  // ssh: { identityFile: '~/.ssh/id_ed25519', knownHosts: '~/.ssh/known_hosts' },
  ssh: {},
  // Files a mirror (publish_build_workflows) uploads at once over its sftp connection: each
  // small file takes three round trips, so a far-away hub wants many at once.
  uploads: 32,

  singularity: {
    compressor: 'gzip',
    extension: '.sif',
    // requireSignature: true makes publish_singularity refuse, before uploading anything, an
    // image that does not verify (sign_singularity, create_singularity sign=1) against keyring
    // (default ~/.apptainer/keys/pgp-public).
    // requireSignature: true, keyring: '~/.apptainer/keys/pgp-public',
  },

  releasePlan: {
    // One entry per git repository. Branches default to bugFix 'master', releaseCandidate
    // 'release_candidate', latestRelease 'latest_release'; the version is read from
    // project_info.cmake, */info.py, package.json or pyproject.toml (or versionFile). E.g.
    //   { project: 'soma', name: 'soma-base', url: 'https://github.com/populse/soma-base.git' },
    //   { project: 'soma', name: 'soma-io', url: 'https://github.com/brainvisa/soma-io.git' },
    //   { project: 'brainvisa', name: 'brainvisa-share', url: 'https://github.com/brainvisa/brainvisa-share.git' },
    //   { project: 'morphologist', name: 'morphologist-nonfree', url: 'git@github.com:brainvisa/morphologist-nonfree.git', bugFix: 'master' },
    // The list can be computed (the config is TypeScript); validation checks the result.
    components: [],
    // Components inspected at once (git fetches are network-bound, so more than jobs): 9 git
    // commands at once share one SSH connection (lib/git/sshSharing.ts), a few more read
    // versions meanwhile.
    jobs: 12,
  },
})
