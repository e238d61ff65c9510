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

  namespace: 'cati',
  templateParameters: {},
  // Builds, conversions and uploads running at once; 1 suits a small build machine.
  jobs: 1,

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
  // Files a mirror (publish_build_workflows) uploads at once over its sftp connection.
  uploads: 8,

  singularity: {
    compressor: 'gzip',
    extension: '.sif',
  },

  releasePlan: {
    // One entry per git repository, e.g.
    // { project: 'soma', name: 'soma-base', url: 'https://github.com/populse/soma-base.git' }
    components: [],
  },
})
