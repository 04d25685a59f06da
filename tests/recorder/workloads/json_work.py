# json_work.py: deterministic Python workload for the recorder's tests and
# bench: builds nested objects and serialises/parses them as JSON.
# Run with PYTHONMALLOC=malloc so that every object goes through malloc.
import json
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
docs = []
for i in range(n):
    docs.append({"id": i, "name": "item-%d" % i, "tags": ["t%d" % (i % 7), "x" * (i % 13)],
                 "nested": {"a": i * 0.5, "b": [i, i + 1, i + 2], "c": None}})
s = json.dumps(docs)
back = json.loads(s)
total = sum(d["nested"]["b"][1] for d in back)
out = json.dumps({"n": len(back), "total": total, "len": len(s)}, sort_keys=True)
print(out)
