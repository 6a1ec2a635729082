import { toFrame, summarize, saveFrame, readFrame } from "../src/results/frames.ts";
const df = toFrame([{model:"s4",seed:1,loss:2.1},{model:"s4",seed:2,loss:2.3},{model:"mamba",seed:1,loss:1.9, ok:true}]);
console.log(df.toString());
console.log(summarize(df,"model","loss").toRecords());
console.log(await saveFrame(df, "/tmp/proto/t1"), readFrame("/tmp/proto/t1").toRecords(), readFrame("/tmp/proto/t1.csv").toRecords());
try { toFrame([{a:1},{a:"x"}]) } catch(e) { console.log(String(e)) }
