"""Bytes a stop adds: old + new blob sizes of every file changed in BASE..HEAD, summed over commits.
   python3 train/stop_size.py BASE          (dev tool; a stop is refused above its size limit)"""
import subprocess, sys

def git(*a):
    return subprocess.run(["git", *a], check=True, capture_output=True, text=True).stdout

base = sys.argv[1]
total = 0
sizes = {}
for rev in git("rev-list", f"{base}..HEAD").split():
    for line in git("diff-tree", "-r", "--raw", "--no-commit-id", rev).splitlines():
        meta = line.split("\t")[0].split()
        for blob in meta[2:4]:
            if set(blob) != {"0"}:
                if blob not in sizes:
                    sizes[blob] = int(git("cat-file", "-s", blob))
                total += sizes[blob]
print(f"{total / 2**20:.1f} MiB in {base}..HEAD")
