# Prints docker-compose 1.29's config-hash of every service of the compose file in the current directory,
# for project "golden" and image ID sha256:0123 (no daemon needed: the client is a stub).
import json, sys
from unittest import mock
from compose.config import config
from compose.config.environment import Environment
from compose.project import Project
from compose.utils import json_hash
env = Environment.from_env_file('.')
cfg = config.load(config.find('.', None, env), interpolate=True)
client = mock.MagicMock()
client.api_version = '1.41'
p = Project.from_config('golden', cfg, client)
for s in sorted(p.services, key=lambda s: s.name):
    s.image = lambda: {'Id': 'sha256:0123'}
    d = s.config_dict()
    if len(sys.argv) > 1:
        print(s.name, json.dumps(d, sort_keys=True, separators=(',', ':'), default=lambda x: x.repr()), file=sys.stderr)
    print(s.name, json_hash(d))
