/* What the page knows: who is acting, where, and what it shows. */
import { USERS } from "./dom.js";

export const S = {
  user: USERS.includes(localStorage.getItem("dl.user")) ? localStorage.getItem("dl.user") : "ana",
  approver: localStorage.getItem("dl.approver") === "1",
  channel: "general",
  thread: null,
  channels: [],
  threadInfo: null,
  messages: new Map(),
  campaignId: null,
  campaign: null,
  votes: {},
  files: [],
  es: null,
  unread: new Set(),
  prevCounters: null,
};
