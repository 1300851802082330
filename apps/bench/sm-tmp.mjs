import { softmax, normal, initCpuThreads, layerNorm } from "@tessera/tensor";
const th = await initCpuThreads(+(process.argv[2]??2));
const x = normal([8, 1024, 1024], 0, 1, { seed: 1 });
const med=a=>a.sort((p,q)=>p-q)[a.length>>1];
for (let rep=0; rep<3; rep++){ const ts=[]; for (let r=0;r<15;r++){ const t=performance.now(); const y=softmax(x, -1); y.dispose(); ts.push(performance.now()-t);} console.log("threads", th, "softmax", med(ts).toFixed(2)); }
process.exit(0);
